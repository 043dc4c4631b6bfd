// clvp-tfjs in Node: CLVP (the Contrastive Language-Voice Pretrained model of Tortoise TTS) on
// TensorFlow.js. Installs the Node platform (local folders, the Hugging Face cache, worker
// threads, tfjs-node when present) and adds the Node-only readers and writers.
import './platform/node_install';
import { nodePlatform } from './platform/node';

export * from './api';
export { FileByteSource, LocalFolder } from './io/local_files';
export { openSafetensorsCheckpoint, openSafetensorsFile, readSafetensors, writeSafetensors } from './io/safetensors_fs';
export { readWav, writeWav } from './audio/wav_fs';
export { HubError, hubCacheDir, hubFile, isHubRepoId, snapshotForModel } from './io/hub';
export type { HubOptions, HubProgress } from './io/hub';
export { writeRandomCheckpoint } from './models/random_checkpoint';
export { nodePlatform };
