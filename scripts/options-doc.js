#!/usr/bin/env node
// Regenerates the generated blocks of docs/options.md from the CLI's own `--help`, so the manual's
// option lists cannot drift from the code: `node scripts/options-doc.js` rewrites them in place;
// `--check` changes nothing and exits 1 naming the blocks that differ (test/docs/options-doc.test.ts).
//
// A block is the verbatim output of `bin/rnn [command] --help` (commander, 80 columns, no colour)
// between two marker lines:
//   <!-- generated: rnn train --help (node scripts/options-doc.js) -->
//   ```text
//   …
//   ```
//   <!-- end generated -->
// Prose around the blocks is kept as written. A command that `rnn --help` lists and the page lacks
// gets a new section at the end; a block whose command is gone is removed (and named on stderr).
// Needs a build (`npm run build`): bin/rnn runs dist/.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'rnn');
const PAGE = path.join(ROOT, 'docs', 'options.md');
const BLOCK = /<!-- generated: (rnn(?: [a-z][a-z-]*)?) --help[^\n]*-->\n```text\n[\s\S]*?\n```\n<!-- end generated -->/g;

/** `bin/rnn ...args --help` as a pipe sees it: commander's 80-column layout, no colour. */
function help(args) {
  const env = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  delete env.COLUMNS;
  return execFileSync(process.execPath, [BIN, ...args, '--help'], { cwd: ROOT, env, encoding: 'utf8' }).replace(/\s+$/, '');
}

/** The commands `rnn --help` lists, in its order (commander's own `help` left out). */
function commands(topHelp) {
  const section = topHelp.split(/\nCommands:\n/)[1] ?? '';
  const names = [];
  for (const line of section.split('\n')) {
    if (line.trim() === '') break;
    const match = /^ {2}([a-z][a-z-]*) /.exec(line);
    if (match && match[1] !== 'help') names.push(match[1]);
  }
  return names;
}

function block(title, text) {
  if (text.includes('```')) throw new Error(`${title} --help contains a code fence; the page cannot hold it`);
  return `<!-- generated: ${title} --help (node scripts/options-doc.js) -->\n\`\`\`text\n${text}\n\`\`\`\n<!-- end generated -->`;
}

/** The page with every block regenerated; `changed` names the blocks that differ from `page`. */
function render(page) {
  const top = help([]);
  const expected = new Map([['rnn', top]]);
  for (const name of commands(top)) expected.set(`rnn ${name}`, help([name]));

  const changed = [];
  const seen = new Set();
  let text = page.replace(BLOCK, (whole, title) => {
    seen.add(title);
    if (!expected.has(title)) {
      changed.push(`${title} (no such command now: block removed)`);
      return '';
    }
    const fresh = block(title, expected.get(title));
    if (fresh !== whole) changed.push(title);
    return fresh;
  });
  for (const [title, output] of expected) {
    if (seen.has(title)) continue;
    changed.push(`${title} (new: section added at the end)`);
    text = `${text.replace(/\n*$/, '')}\n\n## \`${title}\`\n\n${block(title, output)}\n`;
  }
  return { text, changed };
}

function main() {
  const check = process.argv.includes('--check');
  const page = fs.readFileSync(PAGE, 'utf8');
  const { text, changed } = render(page);
  if (check) {
    if (changed.length === 0) return;
    process.stderr.write(`docs/options.md differs from \`rnn --help\` in: ${changed.join(', ')}.\n` +
      'Run `node scripts/options-doc.js` (after `npm run build`) and commit docs/options.md.\n');
    process.exitCode = 1;
    return;
  }
  if (text !== page) fs.writeFileSync(PAGE, text);
  process.stderr.write(changed.length === 0 ? 'docs/options.md: up to date\n' : `docs/options.md: regenerated ${changed.join(', ')}\n`);
}

if (require.main === module) main();
module.exports = { render, commands, help };
