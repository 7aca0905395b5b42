// stderr output for humans: colour only on a TTY without NO_COLOR, and --quiet silences info.

import chalk from 'chalk';

export interface Log {
  readonly color: chalk.Chalk;
  /** stderr is a terminal and colour is allowed: spinners and colour may be used. */
  readonly fancy: boolean;
  /** --quiet: info is dropped. */
  readonly quiet: boolean;
  info(message: string): void;
  warn(message: string): void;
}

/** NO_COLOR (https://no-color.org): present and not empty disables colour. */
export function colorAllowed(stream: NodeJS.WriteStream = process.stderr): boolean {
  const noColor = process.env.NO_COLOR;
  return Boolean(stream.isTTY) && !(noColor !== undefined && noColor !== '');
}

export function createLog(quiet = false): Log {
  const fancy = colorAllowed();
  const color = new chalk.Instance({ level: fancy ? 1 : 0 });
  return {
    color,
    fancy,
    quiet,
    info(message: string) {
      if (!quiet) process.stderr.write(`${message}\n`);
    },
    warn(message: string) {
      process.stderr.write(`${color.yellow('rnn: warning:')} ${message}\n`);
    },
  };
}

/** Colour for text on stdout (a table that is the command's product): only when stdout is a terminal. */
export function stdoutColor(): chalk.Chalk {
  return new chalk.Instance({ level: colorAllowed(process.stdout) ? 1 : 0 });
}
