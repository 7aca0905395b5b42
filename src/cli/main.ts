// The CLI's entry and error boundary: one line on stderr per failure, exit 2 for usage, 1 otherwise.

import { Command, CommanderError } from 'commander';
import { UsageError, InterruptedError } from '../errors';
import { CheckpointError } from '../checkpoint/safetensors';
import { ExitSignal } from './exit';
import { refuseConflictingOptions, refuseRepeatedOptions } from './parse';
import './stdout'; // its EPIPE listener: `rnn … --help | head` exits quietly

/* eslint-disable @typescript-eslint/no-require-imports */
// Each command's module is loaded only when needed: train alone pulls in ora, https and the
// corpus registry, and `rnn sample` should reach its first character fast.
const COMMANDS: Record<string, () => Command> = {
  train: () => (require('./train') as typeof import('./train')).trainCommand(),
  sample: () => (require('./sample') as typeof import('./sample')).sampleCommand(),
  eval: () => (require('./eval') as typeof import('./eval')).evalCommand(),
  info: () => (require('./info') as typeof import('./info')).infoCommand(),
  corpora: () => (require('./corpora') as typeof import('./corpora')).corporaCommand(),
  export: () => (require('./export') as typeof import('./export')).exportCommand(),
  average: () => (require('./average') as typeof import('./average')).averageCommand(),
};
/* eslint-enable @typescript-eslint/no-require-imports */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

export const EXIT = { ok: 0, runtime: 1, usage: 2, interrupted: 130 } as const;

/**
 * The command tree for argv: only the named command when argv starts with one (its options and
 * help need nothing else), else all of them (root help lists them; a typo gets suggestions).
 */
function program(argv: string[]): Command {
  const root = new Command('rnn')
    .description('Character-level text generator: train a recurrent network (LSTM, GRU, vanilla RNN, …) on any text, then sample from it.')
    .version(version, '-V, --version')
    .addHelpText('after', `
Examples:
  $ rnn train tinyshakespeare --time 10m     # fetches the corpus on first use
  $ rnn sample --temp 0.8 --length 500
  $ rnn eval corpora/tinyshakespeare.txt
  $ rnn info
  $ rnn export --format html --out model.html  # the model as one offline web page

stdout carries the product (text, or JSON with --json); progress and errors go to stderr.
Colour and spinners only on a terminal, and never with NO_COLOR set. RNN_DEBUG=1 prints stacks.

Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted (Ctrl-C; training saves first).`);
  const named = Object.prototype.hasOwnProperty.call(COMMANDS, argv[0]) ? [argv[0]] : Object.keys(COMMANDS);
  for (const name of named) root.addCommand(COMMANDS[name]());
  // commander exits 1 on usage errors; exitOverride lets main() map them to 2.
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    // One line, in our voice: "rnn: option '--temp <t>' argument '0' is invalid. …"
    cmd.configureOutput({ outputError: (str, write) => write(`rnn: ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see rnn ${cmd.name() === 'rnn' ? '' : `${cmd.name()} `}--help)\n`) });
    cmd.commands.forEach(override);
  };
  override(root);
  // What commander cannot see: an option given twice (it keeps the last), options that contradict.
  root.hook('preAction', (_root, action) => {
    refuseRepeatedOptions(action, argv.slice(1));
    refuseConflictingOptions(action);
  });
  return root;
}

function fail(message: string, code: number, err?: unknown): number {
  process.stderr.write(`rnn: ${message.split('\n')[0]}\n`);
  if (process.env.RNN_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return code;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program(argv).parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ExitSignal) return err.code;
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage; // commander has already printed its one-line message
    }
    if (err instanceof UsageError) return fail(err.message, EXIT.usage, err);
    if (err instanceof InterruptedError) return fail(err.message, EXIT.interrupted, err);
    if (err instanceof CheckpointError) return fail(err.message, EXIT.runtime, err);
    const message = err instanceof Error ? err.message : String(err);
    return fail(message, EXIT.runtime, err);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
