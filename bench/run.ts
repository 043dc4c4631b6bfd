// Runs every benchmark in turn (each prints its own table): npm run bench [-- --layers N]
// The decode benchmark defaults to 4 layers here to keep the whole run short; run
// `npm run bench:decode` for the full 30-layer figures.
import { spawnSync } from 'child_process';
import * as path from 'path';

const extra = process.argv.slice(2);
const layers = extra.includes('--layers') ? extra : ['--layers', '4', ...extra];
const runs: [string, string[]][] = [
  ['tokenizer', []],
  ['audio', []],
  ['matmul', ['--reps', '10']],
  ['decode', layers],
];
let failed = false;
for (const [name, args] of runs) {
  console.log(`\n## ${name}`);
  const r = spawnSync(process.execPath, [require.resolve('ts-node/dist/bin'), path.join(__dirname, `${name}.ts`), ...args], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
