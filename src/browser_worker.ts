// The Web Worker script of clvp-tfjs (dist/browser/clvp-worker.js): installs the browser platform
// (workers reopen model folders from their location) and runs the entry the page asked for.
// The tensor-parallel rank joins this table when the generation code is free of Node built-ins.
import { browserPlatform } from './platform/browser';
import { runWorker, WorkerMain } from './platform/browser_worker_scope';
import { setPlatform, WorkerEntry } from './platform/platform';

setPlatform(browserPlatform);

const ENTRIES: Partial<Record<WorkerEntry, WorkerMain>> = {};

runWorker(ENTRIES);
