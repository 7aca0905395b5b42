// The shape checks every backend shares (src/kernels/backend.ts): a call with mismatched tensors
// throws the same message on each, before any kernel runs.

import { CELL_NAMES } from '../../src/cells';
import { Backend } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { createWasmBackend } from '../../src/kernels/wasm';
import { createGpujsBackend } from '../../src/kernels/gpujs';

const BACKENDS: Array<[string, () => Backend | Promise<Backend>]> = [
  ['reference', () => new ReferenceBackend('float32')],
  ['wasm', () => createWasmBackend({ threads: 1, simd: 'plain' })],
  ['gpujs-cpu', () => createGpujsBackend({ mode: 'cpu' })],
];

describe.each(BACKENDS)('%s', (_, create) => {
  let be: Backend;
  beforeAll(async () => {
    be = await create();
  });
  afterAll(() => be.destroy());

  it('softmaxCrossEntropy refuses mismatched targets, loss and dLogits with one message', () => {
    const logits = be.alloc(3, 5), loss = be.alloc(1, 1);
    const ids = be.allocIndices(3), fewIds = be.allocIndices(2);
    be.uploadIndices(ids, Int32Array.of(0, 4, 2));
    be.uploadIndices(fewIds, Int32Array.of(0, 4));
    expect(() => be.softmaxCrossEntropy(logits, fewIds, loss, null, 1))
      .toThrow('softmaxCrossEntropy: logits [3, 5], 2 targets, loss of 1; want 3 targets, loss [1, 1], dLogits [3, 5]');
    expect(() => be.softmaxCrossEntropy(logits, ids, be.alloc(1, 2), null, 1)).toThrow('loss of 2; want 3 targets');
    expect(() => be.softmaxCrossEntropy(logits, ids, loss, be.alloc(5, 3), 1)).toThrow('dLogits [5, 3]; want');
    expect(() => be.softmaxCrossEntropy(logits, ids, loss, be.alloc(3, 5), 1)).not.toThrow();
  });

  it.each(CELL_NAMES.map((c) => [c]))('builds the %s cell\'s kernels (cellMissing otherwise)', (cell) => {
    const kernels = be.cell(cell);
    expect([typeof kernels.forward, typeof kernels.backward]).toEqual(['function', 'function']);
  });
});
