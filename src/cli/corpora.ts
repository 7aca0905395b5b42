// `rnn corpora`: the corpora rnn knows by name, and which of them (and what else) is in the corpora folder.

import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULTS } from '../config';
import { KNOWN_CORPORA, corpusState } from '../data/registry';
import { stdoutColor } from './log';
import { writeOut } from './stdout';

interface CorporaOptions {
  corporaDir: string;
  json: boolean;
}

export function corporaCommand(): Command {
  return new Command('corpora')
    .description('list the corpora known by name and the text files present in --corpora-dir')
    .option('--corpora-dir <dir>', 'where named corpora are found, and fetched to', DEFAULTS.corporaDir)
    .option('--json', 'print one JSON object instead of a table', false)
    .addHelpText('after', `
Known corpora are fetched on first use, with their sha256 checked:
  $ rnn train tinyshakespeare --time 10m

Examples:
  $ rnn corpora
  $ rnn corpora --json | jq '.known[] | select(.present)'`)
    .action(async (opts: CorporaOptions) => {
      await runCorpora(opts);
    });
}

async function runCorpora(opts: CorporaOptions): Promise<void> {
  const known = KNOWN_CORPORA.map((c) => {
    const { file, state, bytes } = corpusState(c, opts.corporaDir);
    return { name: c.name, file, present: state !== 'absent', checksum: state === 'absent' ? null : state, bytes: bytes ?? c.bytes, url: c.url, sha256: c.sha256, description: c.description };
  });
  const registered = new Set(KNOWN_CORPORA.map((c) => c.file));
  let local: Array<{ file: string; bytes: number }> = [];
  try {
    local = fs.readdirSync(opts.corporaDir)
      .filter((n) => n.endsWith('.txt') && !n.startsWith('.') && !registered.has(n))
      .map((n) => path.join(opts.corporaDir, n))
      .filter((p) => fs.statSync(p).isFile())
      .map((p) => ({ file: p, bytes: fs.statSync(p).size }));
  } catch {
    // No corpora folder yet: nothing local.
  }
  if (opts.json) {
    await writeOut(`${JSON.stringify({ corporaDir: opts.corporaDir, known, local })}\n`);
    return;
  }
  const color = stdoutColor();
  const rows: string[] = [];
  for (const k of known) {
    const where = !k.present ? color.dim(`absent: fetched on first \`rnn train ${k.name}\``)
      : k.checksum === 'ok' ? color.green(`present: ${k.file}, sha256 ok`) : color.yellow(`present: ${k.file}, sha256 differs from the registered one`);
    rows.push(`${k.name.padEnd(18)} ${k.bytes.toLocaleString('en-US').padStart(11)} bytes  ${where}`);
    rows.push(`${' '.repeat(19)}${k.description}; ${k.url}`);
  }
  for (const l of local) rows.push(`${path.basename(l.file, '.txt').padEnd(18)} ${l.bytes.toLocaleString('en-US').padStart(11)} bytes  local: ${l.file}`);
  await writeOut(`${rows.join('\n')}\n`);
}
