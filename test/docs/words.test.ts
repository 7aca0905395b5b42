// The repository speaks of the software alone: no tracked file names the way the project was
// made (working sittings, numbered tickets and who filed them, the people around it). The
// patterns below are the words docs/testing.md means by that; they are spelled so that this file
// does not match itself. A measurement is dated by calendar date and commit instead.
//
// Code is not prose: in a .ts or .js file a match outside comments and string literals is an
// identifier (the list of gpu.js functions every kernel may call, say) and is left to the code; a match right after a
// `/` is a file name in a path. Anything else is reworded, never allowed by a list.

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

// Between two words: spaces, a line break and a comment's leading `*`, `//` or `#`.
const WORDS: RegExp[] = [
  /\bstops?[\s*/#-]+\d+/gi,
  /\bses{2}ions?\b/gi,
  /\bis{2}ues?[\s*/#]+#?\d+/gi,
  /\bthe[\s*/#]+is{2}ue['’]s\b/gi,
  /\bthe[\s*/#]+lead\b/gi,
  /\bhel[p]ers?\b/gi,
];

/** Tracked files that are text written here (the lock file and test fixtures are generated or recorded). */
function checkedFiles(): string[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  return files.filter((file) => file !== 'package-lock.json' && !/(^|\/)fixtures\//.test(file));
}

/**
 * [start, end) ranges of a JS/TS source that are code: outside comments and string literals.
 * A small scanner, not a parser: regex literals are recognised after an operator or an opening
 * bracket, which is all this repository's sources need.
 */
export function codeRanges(source: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  const templateDepth: number[] = []; // brace depth at each `${` still open
  let braces = 0;
  let codeStart = 0;
  let i = 0;
  const endCode = (at: number) => { if (at > codeStart) ranges.push([codeStart, at]); };
  const previousSignificant = (at: number): string => {
    let j = at - 1;
    while (j >= 0 && /\s/.test(source[j])) j--;
    return j < 0 ? '' : source[j];
  };
  const skipString = (from: number, quote: string): number => {
    let j = from + 1;
    while (j < source.length && source[j] !== quote) {
      if (source[j] === '\\') j++;
      else if (source[j] === '\n' && quote !== '`') break;
      else if (quote === '`' && source[j] === '$' && source[j + 1] === '{') return -j; // a `${` opens code
      j++;
    }
    return j + 1;
  };
  const resumeTemplate = (from: number) => {
    // from just after a template's opening quote or a closing `}` of `${…}`: string until ` or ${
    const end = skipString(from - 1, '`');
    if (end < 0) {
      templateDepth.push(braces);
      i = -end + 2;
      codeStart = i;
    } else {
      i = end;
      codeStart = i;
    }
  };
  while (i < source.length) {
    const ch = source[i];
    const next = source[i + 1];
    if (ch === '/' && next === '/') {
      endCode(i);
      const end = source.indexOf('\n', i);
      i = end < 0 ? source.length : end;
      codeStart = i;
    } else if (ch === '/' && next === '*') {
      endCode(i);
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 2;
      codeStart = i;
    } else if (ch === "'" || ch === '"') {
      endCode(i);
      i = skipString(i, ch);
      codeStart = i;
    } else if (ch === '`') {
      endCode(i);
      resumeTemplate(i + 1);
    } else if (ch === '/' && (previousSignificant(i) === '' || '(,=:[!&|?{};+-*%<>~^'.includes(previousSignificant(i)))) {
      // a regex literal: code, scanned past (its class may hold a quote or a slash)
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== '\n') {
        if (source[j] === '\\') j++;
        else if (source[j] === '[') inClass = true;
        else if (source[j] === ']') inClass = false;
        else if (source[j] === '/' && !inClass) break;
        j++;
      }
      i = j + 1;
    } else if (ch === '{') {
      braces++;
      i++;
    } else if (ch === '}') {
      if (templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces) {
        templateDepth.pop();
        endCode(i);
        resumeTemplate(i + 1);
      } else {
        braces--;
        i++;
      }
    } else {
      i++;
    }
  }
  endCode(source.length);
  return ranges;
}

function findWords(file: string, text: string): string[] {
  const code = /\.(ts|js)$/.test(file) ? codeRanges(text) : [];
  const inCode = (at: number) => code.some(([start, end]) => at >= start && at < end);
  const hits: string[] = [];
  for (const pattern of WORDS) {
    for (const match of text.matchAll(pattern)) {
      const at = match.index ?? 0;
      if (text[at - 1] === '/' || inCode(at)) continue;
      const line = text.slice(0, at).split('\n').length;
      hits.push(`${file}:${line}: "${match[0]}"`);
    }
  }
  return hits;
}

test('no tracked file speaks of how the project was made', () => {
  const hits: string[] = [];
  for (const file of checkedFiles()) {
    const full = path.join(ROOT, file);
    if (!fs.existsSync(full) || !fs.statSync(full).isFile()) continue;
    const bytes = fs.readFileSync(full);
    if (bytes.includes(0)) continue; // binary: weights, images, wasm
    hits.push(...findWords(file, bytes.toString('utf8')));
  }
  // Reword each one to speak of the software (date a measurement by calendar date and commit).
  expect(hits.sort()).toEqual([]);
});

test('the scanner tells identifiers from comments and strings', () => {
  // The samples spell each word with a `·` inside, taken out here, so this file passes its own check.
  const word = (text: string) => text.replace(/·/g, '');
  const source = word([
    "const HEL·PERS = [a, b]; // shared hel·pers",
    "import { rnn } from './hel·pers';",
    "const re = /['\"]/g; const s = `one ${HEL·PERS.length} hel·per`;",
    "/* a ses·sion */ cell.hel·pers ?? [];",
  ].join('\n'));
  expect(findWords('x.ts', source).sort()).toEqual(word('x.ts:1: "hel·pers"|x.ts:3: "hel·per"|x.ts:4: "ses·sion"').split('|'));
  expect(findWords('x.md', word('see sto·p 17 and the le·ad'))).toEqual(word('x.md:1: "sto·p 17"|x.md:1: "the le·ad"').split('|'));
  expect(findWords('x.ts', word('// at 0.5 (sto·p\n// 18) and\n/* the\n * le·ad */'))).toEqual(word('x.ts:1: "sto·p\n// 18"|x.ts:3: "the\n * le·ad"').split('|'));
});
