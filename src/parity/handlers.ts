// The registry of parity call handlers: one entry per implemented call type.
import { MODEL_HANDLERS } from './calls/model';
import type { CallHandler } from './runner';

export const HANDLERS: Record<string, CallHandler> = {
  ...MODEL_HANDLERS,
};
