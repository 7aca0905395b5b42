#!/usr/bin/env node
// `npm test`: runs jest; with RNN_TEST_HEADLESSGL=1 (as CI sets) under an X server, so the
// gpu.js GLSL path is tested on Mesa's software renderer even on a machine with no GPU.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const jest = [require.resolve('jest/bin/jest'), ...process.argv.slice(2)];
let command = process.execPath;
let args = jest;
if (process.env.RNN_TEST_HEADLESSGL === '1' && !process.env.DISPLAY) {
  const probe = spawnSync('xvfb-run', ['--help'], { stdio: 'ignore' });
  if (probe.error) {
    process.stderr.write('test: RNN_TEST_HEADLESSGL=1 needs xvfb-run (apt-get install xvfb xauth); see .ci/apt-packages.txt\n');
    process.exit(1);
  }
  command = 'xvfb-run';
  args = ['-a', process.execPath, ...jest];
}
const result = spawnSync(command, args, { stdio: 'inherit', cwd: path.join(__dirname, '..') });
if (result.error) {
  process.stderr.write(`test: ${result.error.message}\n`);
  process.exit(1);
}
process.exit(result.status === null ? 1 : result.status);
