// Imports point one way: down the layers below, never up. Reads every file in src/ (TypeScript and
// JavaScript, import/export/require/import() alike, type-only imports too) and fails on an import
// that reaches a higher layer, or sideways into another part of the same layer.
//
// The layers, top to bottom (a file may import its own part and any part below it):
//   cli/             the commands: flags, what is printed, exit codes
//   train/           what a run trains (the plan, pure) and the runner that carries it out
//   export/          rnn export's shareable model (reads checkpoints)
//   sample/, checkpoint/   generation; safetensors files (both read the engine)
//   engine/          the model, its training and evaluation
//   config.ts        the typed Config, DEFAULTS, validateConfig (reads the cells and backend names)
//   kernels/         the Backend interface and its backends
//   cells.ts         each recurrent cell described once (src/cells.ts)
//   data/            text, vocabulary, batches, files
//   errors.ts        the error types every layer may throw
// Anything outside src/ (node modules, package.json) is not checked.

import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const SRC = path.join(__dirname, '..', 'src');

/** Rank of each part: higher may import lower. Parts of the same rank may not import each other. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['errors.ts'],
  ['data'],
  ['cells.ts'],
  ['kernels'],
  ['config.ts'],
  ['engine'],
  ['sample', 'checkpoint'],
  ['export'],
  ['train'],
  ['cli'],
];

/** The part of src/ a file (or an import's target, maybe without its extension) belongs to. */
function partOf(file: string): string {
  const [top, ...rest] = path.relative(SRC, file).split(path.sep);
  if (rest.length > 0 || fs.existsSync(path.join(SRC, top)) || path.extname(top)) return top;
  return `${top}.ts`; // '../config' names config.ts
}

function rankOf(part: string): number {
  const rank = LAYERS.findIndex((parts) => parts.includes(part));
  if (rank < 0) throw new Error(`src/${part} is in no layer: add it to LAYERS in test/imports.test.ts, with its place in the rule`);
  return rank;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|js)$/.test(entry.name) ? [full] : [];
  });
}

/** What a specifier names inside src/, or null for a package or a file outside src/. */
function resolveInSrc(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const target = path.resolve(path.dirname(from), specifier);
  const relative = path.relative(SRC, target);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return null;
  return target;
}

export interface Violation {
  from: string;
  to: string;
}

/** The imports of one file (given its text) that break the rule. */
export function upwardImports(file: string, text: string): Violation[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  const fromPart = partOf(file), fromRank = rankOf(fromPart);
  const out: Violation[] = [];
  for (const { fileName } of importedFiles) {
    const target = resolveInSrc(file, fileName);
    if (!target) continue;
    const toPart = partOf(target);
    if (toPart === fromPart) continue;
    if (rankOf(toPart) >= fromRank) out.push({ from: path.relative(SRC, file), to: fileName });
  }
  return out;
}

describe('imports point one way', () => {
  it('no file in src/ imports a layer above its own, or a sibling part of its layer', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    const violations = files.flatMap((file) => upwardImports(file, fs.readFileSync(file, 'utf8')))
      .map((v) => `src/${v.from} imports '${v.to}'`);
    expect(violations).toEqual([]);
  });

  it('the check sees upward imports in every form', () => {
    const at = (p: string): string => path.join(SRC, p);
    // The two upward imports this rule was written against, and the other forms an import takes.
    expect(upwardImports(at('kernels/index.ts'), "import { BackendName } from '../config';")).toHaveLength(1);
    expect(upwardImports(at('config.ts'), "import { cellSpec } from './engine/cells';")).toHaveLength(1);
    expect(upwardImports(at('engine/model.ts'), "import type { X } from '../cli/memory';")).toHaveLength(1);
    expect(upwardImports(at('kernels/wasm/backend.ts'), "const m = require('../../engine/model');")).toHaveLength(1);
    expect(upwardImports(at('data/corpus.ts'), "export { a } from '../kernels/backend';")).toHaveLength(1);
    expect(upwardImports(at('engine/model.ts'), "const m = import('../sample/rows');")).toHaveLength(1);
    // Sideways between parts of one layer.
    expect(upwardImports(at('sample/rows.ts'), "import { x } from '../checkpoint/checkpoint';")).toHaveLength(1);
    // Down, within a part, and outside src/: fine.
    expect(upwardImports(at('cli/info.ts'), [
      "import { a } from '../engine/model';", "import { b } from './log';", "import pkg from '../../package.json';",
      "import * as fs from 'fs';",
    ].join('\n'))).toEqual([]);
  });
});
