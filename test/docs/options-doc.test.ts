// docs/options.md carries each command's `--help` verbatim; this fails when the CLI and the page
// disagree, and the message says how to bring the page up to date (the script regenerates it).

import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

test('docs/options.md holds every command\'s --help as bin/rnn prints it', () => {
  const check = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'options-doc.js'), '--check'], { cwd: ROOT, encoding: 'utf8' });
  if (check.error) throw check.error;
  // On a mismatch the script names the blocks and says: run `node scripts/options-doc.js`.
  expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });
});
