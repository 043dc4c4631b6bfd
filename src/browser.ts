// clvp-tfjs for web pages (dist/browser/clvp-tfjs.js): the whole library (src/api.ts) with the
// browser platform installed, plus what only a page has: model folders by URL or picked by the
// user, the offline cache, audio decoding and the microphone, voice clips from either, and a
// model with its processor loaded from any of those folders. scripts/build-browser.ts refuses the
// build if anything here reaches a Node built-in.
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { decodeWav } from './audio/wav';
import { setWavDecoder } from './audio/browser_audio';
import { browserPlatform } from './platform/browser';
import { setPlatform } from './platform/platform';

setPlatform(browserPlatform);
setWavDecoder(decodeWav);

export * from './api';

export { browserPlatform, createBrowserPlatform, bundleFolderUrl } from './platform/browser';
export type { BrowserPlatformOptions } from './platform/browser';
export { platform, setPlatform, hasPlatform } from './platform/platform';
export type { WorkerPort, WorkerScope, WorkerEntry, OpenModelOptions } from './platform/platform';
export { runWorker } from './platform/browser_worker_scope';
export type { WorkerMain } from './platform/browser_worker_scope';

export { ByteSourceError, checkRange } from './io/bytes';
export { readJson, stripBom, checkRelativeName } from './io/folder';
export { BlobByteSource } from './io/blob_source';
export { FilesFolder } from './io/files_folder';
export { HttpByteSource } from './io/http_source';
export type { HttpSourceOptions } from './io/http_source';
export { UrlFolder, clearModelCache, folderUrl } from './io/url_folder';
export type { UrlFolderOptions } from './io/url_folder';
export { OpfsCache, DEFAULT_CACHE_DIR } from './io/opfs_cache';
export { loadClvp, fromFiles, openModelFolder } from './browser_loading';
export type { LoadedClvp, ModelInput } from './browser_loading';

export { decodeAudioBytes, recordMicrophone, setWavDecoder, BrowserAudioError } from './audio/browser_audio';
export type { DecodedAudio, DecodeAudioOptions, Recording, RecordMicrophoneOptions, WavDecoder } from './audio/browser_audio';
export { voiceFromFile, voiceFromMicrophone } from './audio/browser_voice';
export type { BrowserVoice, VoiceInput, VoiceFromFileOptions, VoiceFromMicrophoneOptions } from './audio/browser_voice';
export { sniffAudio } from './audio/sniff_rate';
export type { AudioContainer, SniffResult } from './audio/sniff_rate';

