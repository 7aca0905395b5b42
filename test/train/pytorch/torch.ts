// Whether Debian's PyTorch is here: the PyTorch engine's tests run with it and are skipped by name without it.

import { spawnSync } from 'child_process';

export const PYTHON = '/usr/bin/python3';
export const HAS_TORCH = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torch.distributed'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
})();
export const withTorch = HAS_TORCH ? describe : describe.skip;
export const SKIPPED = HAS_TORCH ? '' : ` (skipped: ${PYTHON} cannot import torch; apt-get install python3-torch)`;
