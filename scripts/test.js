#!/usr/bin/env node
// `npm test`: the jest suite (Node), then the browser tests in Debian's Chromium (test/browser/run.ts).
// Arguments go to jest (`npm test -- test/models` runs those suites and skips the browser tests).
// Prints one plain closing line per part and a total, and fails if either part fails.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-test-')), 'jest.json');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

const jest = spawnSync(bin('jest'), [...args, '--json', `--outputFile=${report}`], { cwd: root, stdio: 'inherit' });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(fs.readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests;
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
} catch {
  console.log('jest: 0 passed, 1 failed');
  failed += 1;
}
let browserStatus = 0;
// A run of chosen jest suites is a developer's quick check: the browser tests are a part of their own.
if (args.filter((a) => !a.startsWith('-')).length === 0) {
  const browser = spawnSync(bin('ts-node'), ['-T', path.join('test', 'browser', 'run.ts')], { cwd: root, encoding: 'utf8', stdio: ['inherit', 'pipe', 'inherit'] });
  process.stdout.write(browser.stdout ?? '');
  const m = /browser: (\d+) passed, (\d+) failed/.exec(browser.stdout ?? '');
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  } else failed += 1;
  browserStatus = browser.status ?? 1;
}
console.log(`total: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = jest.status === 0 && browserStatus === 0 && failed === 0 ? 0 : 1;
