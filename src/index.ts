export * from './backend';
export * from './io/safetensors';
