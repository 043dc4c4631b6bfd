// clvp-tfjs for web pages (dist/browser/clvp-tfjs.js). Installs the browser platform and exports
// what runs in a page: model folders by URL or picked by the user, the offline cache, audio
// decoding and the microphone, and backend selection. The model classes join once the core
// library no longer imports Node built-ins (scripts/build-browser.ts refuses any that do).
import { browserPlatform } from './platform/browser';
import { setPlatform } from './platform/platform';

setPlatform(browserPlatform);

export { browserPlatform, createBrowserPlatform, bundleFolderUrl } from './platform/browser';
export type { BrowserPlatformOptions } from './platform/browser';
export { platform, setPlatform, hasPlatform } from './platform/platform';
export type { Platform, WorkerPort, WorkerScope, WorkerEntry, OpenModelOptions, DownloadProgress } from './platform/platform';
export { runWorker } from './platform/browser_worker_scope';
export type { WorkerMain } from './platform/browser_worker_scope';

export { ByteSourceError, MemoryByteSource, checkRange } from './io/bytes';
export type { ByteSource } from './io/bytes';
export { MemoryFolder, ModelFolderError, readJson, stripBom, checkRelativeName } from './io/folder';
export type { FolderLocation, ModelFolder } from './io/folder';
export { BlobByteSource } from './io/blob_source';
export { FilesFolder } from './io/files_folder';
export { HttpByteSource } from './io/http_source';
export type { HttpSourceOptions } from './io/http_source';
export { UrlFolder, clearModelCache, folderUrl } from './io/url_folder';
export type { UrlFolderOptions } from './io/url_folder';
export { OpfsCache, DEFAULT_CACHE_DIR } from './io/opfs_cache';

export { decodeAudioBytes, recordMicrophone, setWavDecoder, BrowserAudioError } from './audio/browser_audio';
export type { DecodedAudio, DecodeAudioOptions, Recording, RecordMicrophoneOptions, WavDecoder } from './audio/browser_audio';
export { sniffAudio } from './audio/sniff_rate';
export type { AudioContainer, SniffResult } from './audio/sniff_rate';

export { initBrowserBackend, BROWSER_BACKENDS, BrowserBackendError } from './backend_browser';
export type { BrowserBackendName } from './backend_browser';
