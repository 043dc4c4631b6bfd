export type { HostTensor } from '../io/safetensors';
export type { Tolerance } from './cases';
