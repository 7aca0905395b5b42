// Every cell of src/cells.ts is complete: kernels in each backend's registry and in the built wasm
// module, and a step in the export runtime that agrees with the engine. A spec entry added without
// them fails here, naming the cell; docs/cells-internals.md lists the files a new cell touches, and
// the first test keeps that page's count true.

import * as fs from 'fs';
import * as path from 'path';
import { CELL_NAMES, CellName, cellSpec, cellState } from '../src/cells';
import { f16Bits, roundToF16 } from '../src/checkpoint/f16';
import { ModelConfig } from '../src/config';
import { Model } from '../src/engine/model';
import { Rng } from '../src/engine/rng';
import { cellMissing, cellKernelsOf } from '../src/kernels/backend';
import { GPUJS_CELLS } from '../src/kernels/gpujs/cells';
import { ReferenceBackend } from '../src/kernels/reference/reference';
import { REFERENCE_CELLS } from '../src/kernels/reference/cells';
import { WASM_CELLS } from '../src/kernels/wasm/cells';

const ROOT = path.join(__dirname, '..');

interface RuntimeCell {
  gates: number;
  state: string[];
  step: unknown;
}
interface RuntimeStream {
  logits: Float32Array;
  feed(id: number): void;
}
interface Runtime {
  cells: Record<string, RuntimeCell>;
  prefixes: Record<string, string>;
  Model: new (spec: unknown) => { stream(): RuntimeStream };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtime = require('../src/export/runtime.js') as Runtime;

describe('docs/cells-internals.md', () => {
  it('states as many files as its table lists, and every one exists', () => {
    const page = fs.readFileSync(path.join(ROOT, 'docs', 'cells-internals.md'), 'utf8');
    const stated = /^## What a seventh cell touches: (\d+) files$/m.exec(page);
    expect(stated).not.toBeNull();
    const rows = [...page.matchAll(/^\| (\d+) \| `([^`]+)` \|/gm)];
    expect(rows.map((r) => Number(r[1]))).toEqual(rows.map((_, i) => i + 1));
    expect(rows).toHaveLength(Number(stated![1]));
    for (const [, , file] of rows) {
      // A new file's row names it <cell>: the LSTM's stands in for it.
      const existing = file.replace('<cell>', 'lstm');
      expect([existing, fs.existsSync(path.join(ROOT, existing))]).toEqual([existing, true]);
    }
  });
});

describe.each(CELL_NAMES.map((cell) => [cell]))('the %s cell', (cell: CellName) => {
  const spec = cellSpec(cell);

  it('has kernels in every backend\'s registry', () => {
    expect(cellKernelsOf('reference', REFERENCE_CELLS, cell)).toBeInstanceOf(Function);
    expect(cellKernelsOf('wasm', WASM_CELLS, cell).name).toBe(cell);
    expect(cellKernelsOf('gpujs', GPUJS_CELLS, cell).forward.length).toBeGreaterThan(0);
  });

  it('has its wasm kernels in both built modules', () => {
    const { forward, backward } = WASM_CELLS[cell];
    // The text form asc writes beside each module (the relaxed one needs a Node flag to compile).
    for (const file of ['kernels.wat', 'kernels-relaxed.wat']) {
      const wat = path.join(ROOT, 'build', 'wasm', file);
      if (!fs.existsSync(wat)) throw new Error(`${wat} is missing: run npm run build:wasm`);
      const exports = [...fs.readFileSync(wat, 'utf8').matchAll(/^\s*\(export "([^"]+)"/gm)].map((m) => m[1]);
      expect(exports).toEqual(expect.arrayContaining([forward.kernel, backward.kernel]));
    }
  });

  it('is in the export runtime with the spec\'s gates, state and module', () => {
    const entry = runtime.cells[cell];
    expect(entry).toBeDefined();
    expect({ gates: entry.gates, state: entry.state, module: runtime.prefixes[cell] })
      .toEqual({ gates: spec.gates, state: [...cellState(spec)], module: spec.module });
  });

  // The runtime promises `rnn sample --backend reference`'s numbers exactly, for F16 weights.
  const zoneouts: Array<Pick<ModelConfig, 'zoneout' | 'zoneoutCell'>> = [{ zoneout: 0 }, { zoneout: 0.15 }];
  if (spec.carriesCell) zoneouts.push({ zoneout: 0.05, zoneoutCell: 0.5 });
  it.each(zoneouts.map((z) => [JSON.stringify(z), z]))('steps to the engine\'s logits exactly, %s', async (_, zone) => {
    const config: ModelConfig = { vocabSize: 6, embeddingSize: 3, hiddenSize: 5, layers: 2, cell, ...zone };
    const be = new ReferenceBackend();
    const model = new Model(be, config);
    model.initialize(new Rng(7), spec.allowsIdentityInit ? 'identity' : 'orthogonal');
    const tensors: Record<string, { dtype: 'F16'; shape: number[]; data: string }> = {};
    for (const p of model.params) {
      // Peepholes start at 0: give them values, so the runtime's use of them is checked too.
      const initial = Float32Array.from(await be.download(p.value));
      const values = roundToF16(p.name.includes('weight_peep') ? initial.map((_, i) => 0.3 * Math.sin(i + 1)) : initial);
      be.upload(p.value, values);
      const bits = Uint16Array.from(values, (v) => f16Bits(v));
      tensors[p.name] = { dtype: 'F16', shape: p.shape, data: Buffer.from(bits.buffer).toString('base64') };
    }
    const stream = new runtime.Model({ config, vocab: ['a', 'b', 'c', 'd', 'e', 'f'], tensors }).stream();
    const ws = model.workspace(1, 1);
    ws.resetState();
    for (const id of [0, 3, 5, 1, 1, 4, 2]) {
      be.uploadIndices(ws.tokens, Int32Array.of(id));
      model.forward(ws, false, false);
      ws.carryState();
      stream.feed(id);
      expect(Array.from(stream.logits)).toEqual(Array.from(await be.download(ws.logits)));
    }
  });
});

it('a registry without a cell fails with cellMissing\'s message', () => {
  const { gru: _gru, ...withoutGru } = REFERENCE_CELLS;
  expect(() => cellKernelsOf('reference', withoutGru as typeof REFERENCE_CELLS, 'gru'))
    .toThrow(cellMissing('reference', 'gru').message);
});
