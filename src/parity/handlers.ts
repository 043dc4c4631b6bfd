// The registry of parity call handlers: one entry per implemented call type.
import type { CallHandler } from './runner';

export const HANDLERS: Record<string, CallHandler> = {};
