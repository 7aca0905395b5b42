#!/usr/bin/env node
// `npm test`: runs jest; with RNN_TEST_HEADLESSGL=1 (as CI sets) under an X server, so the
// gpu.js GLSL path is tested on Mesa's software renderer even on a machine with no GPU. With
// RNN_TEST_WEBGPU=1 (as CI sets) the gpu.js webgpu suites run too, on Mesa's lavapipe there;
// a machine without a Vulkan driver Dawn accepts fails them, with the reason, up front.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

if (process.env.RNN_TEST_WEBGPU === '1') {
  const vulkan = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].some((dir) => {
    try {
      return require('fs').readdirSync(dir).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
  if (!vulkan && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && process.platform === 'linux') {
    process.stderr.write('test: RNN_TEST_WEBGPU=1 needs a Vulkan driver (Mesa 25 lavapipe: mesa-vulkan-drivers from ' +
      'bookworm-backports, pinned as .ci/run does); the webgpu suites will fail without one\n');
  }
}

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
