#!/usr/bin/env node
// Entry point of the `clvp` command: the compiled CLI when dist/ is built, else the TypeScript sources through
// ts-node (transpile only). CLVP_FROM_SOURCE=1 forces the sources even when dist/ exists.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
let cli;
if (fs.existsSync(built) && process.env.CLVP_FROM_SOURCE !== '1') {
  cli = require(built);
} else {
  require('ts-node').register({ transpileOnly: true, project: path.join(root, 'tsconfig.json') });
  cli = require(path.join(root, 'src', 'cli', 'main.ts'));
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`clvp: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
