// The Web Worker script of clvp-tfjs (dist/browser/clvp-worker.js): installs the browser platform
// (workers reopen model folders from their location) and runs the entry the page asked for.
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { browserPlatform } from './platform/browser';
import { runWorker, WorkerMain } from './platform/browser_worker_scope';
import { setPlatform, WorkerEntry } from './platform/platform';
import { runRank } from './runtime/rank_worker';

setPlatform(browserPlatform);

const ENTRIES: Partial<Record<WorkerEntry, WorkerMain>> = { 'tensor-parallel-rank': runRank };

runWorker(ENTRIES);
