// README.md's cheap shell lines run as shown: every `./bin/rnn` (or `rnn`) command in its ```sh
// blocks that asks for help, shows a checkpoint or samples a short text, run from an empty folder
// as a fresh clone would (no checkpoint of its own, so `rnn sample` takes the bundled model), must
// exit 0. Training, `npm ci` and the benchmarks are left out: they take minutes.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'rnn');
const MAX_SAMPLE_LENGTH = 1000;

/** Each command of the README's ```sh blocks: continuation lines joined, `&&` chains split. */
export function shellCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    const lines = block[1].replace(/\s*\\\n\s*/g, ' ').split('\n');
    for (const line of lines) {
      const code = line.replace(/\s+#.*$/, '').trim();
      if (code !== '') commands.push(...code.split('&&').map((part) => part.trim()));
    }
  }
  return commands;
}

/** The arguments of a cheap rnn command, or null: help, info, or a sample of at most MAX_SAMPLE_LENGTH. */
export function cheapRnnArgs(command: string): string[] | null {
  if (/[|<>;$`'"]/.test(command)) return null; // pipes, redirections, quoting: not a plain command
  const words = command.split(/\s+/);
  if (words[0] !== './bin/rnn' && words[0] !== 'rnn') return null;
  const args = words.slice(1);
  if (args.includes('--help') || args[0] === 'help' || args[0] === 'info' || args[0] === 'corpora') return args;
  if (args[0] === 'sample') {
    const at = args.findIndex((a) => a === '--length' || a === '-n');
    const length = at >= 0 ? Number(args[at + 1]) : Infinity;
    return length <= MAX_SAMPLE_LENGTH ? args : null;
  }
  return null;
}

describe("README.md's shell lines", () => {
  const commands = shellCommands(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  const cheap = [...new Set(commands)].map((command) => ({ command, args: cheapRnnArgs(command) })).filter((c) => c.args !== null);

  it('include the help, info and a short sample from the bundled model', () => {
    const kinds = new Set(cheap.map(({ args }) => (args!.includes('--help') ? '--help' : args![0])));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['--help', 'info', 'sample']));
  });

  it.each(cheap.map(({ command, args }) => [command, args!] as const))('%s exits 0', (_command, args) => {
    const emptyClone = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-readme-'));
    try {
      const run = spawnSync(process.execPath, [BIN, ...args], {
        cwd: emptyClone,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', RNN_DEBUG: '' },
        timeout: 60000,
      });
      if (run.error) throw run.error;
      expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
      expect(run.stdout.length).toBeGreaterThan(0);
    } finally {
      fs.rmSync(emptyClone, { recursive: true, force: true });
    }
  });

  it('parses a block as a reader would run it', () => {
    const markdown = '```sh\nnpm ci && ./bin/rnn sample --length 50   # short\n./bin/rnn train x.txt \\\n  --time 1m\n```\n';
    expect(shellCommands(markdown)).toEqual(['npm ci', './bin/rnn sample --length 50', './bin/rnn train x.txt --time 1m']);
    expect(shellCommands(markdown).map(cheapRnnArgs)).toEqual([null, ['sample', '--length', '50'], null]);
  });
});
