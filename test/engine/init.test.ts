// --init pytorch: PyTorch's own defaults, U(−1/√H, 1/√H) for every recurrent and decoder
// weight and bias; the embedding N(0, 1); peepholes (no PyTorch counterpart) 0.

import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Rng } from '../../src/engine/rng';

describe('--init pytorch', () => {
  it.each(['gru', 'peephole'] as const)('draws every weight and bias but the embedding from U(±1/√H) (%s)', async (cell) => {
    const backend = new ReferenceBackend('float64');
    const H = 37;
    const model = new Model(backend, { vocabSize: 11, embeddingSize: 6, hiddenSize: H, layers: 2, cell, zoneout: 0 });
    model.initialize(new Rng(5), 'pytorch');
    const k = 1 / Math.sqrt(H);
    for (const p of model.params) {
      const values = Array.from(await backend.download(p.value));
      const largest = Math.max(...values.map(Math.abs));
      if (p.name === 'embedding.weight') expect(largest).toBeGreaterThan(1.5); // N(0, 1)
      else if (p.name.includes('weight_peep')) expect(largest).toBe(0);
      else {
        expect(largest).toBeLessThanOrEqual(k);
        expect(largest).toBeGreaterThan(0.5 * k); // spread over the range, biases too (11 decoder biases)
      }
    }
  });
});
