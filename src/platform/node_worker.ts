// Entry of a Node worker thread: install the Node platform and run the entry it was started for.
import { parentPort, workerData } from 'worker_threads';
import './node_install';
import { runRank } from '../runtime/rank_worker';
import { WorkerScope } from './platform';

const port = parentPort!;
const scope: WorkerScope = {
  init: (workerData as { init: unknown }).init,
  postMessage: (m) => port.postMessage(m),
  onMessage: (h) => port.on('message', h),
  exit: (code) => process.exit(code),
};
const entry = (workerData as { entry: string }).entry;
if (entry === 'tensor-parallel-rank') void runRank(scope);
else throw new Error(`unknown worker entry '${entry}'`);
