// The Evaluator's `counted` mask (rnn eval's unknown characters): left-out pairs leave the sum exactly.

import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Evaluator } from '../../src/engine/evaluator';
import { Rng } from '../../src/engine/rng';

const V = 7;

function setup(): { model: Model; tokens: Int32Array } {
  const rng = new Rng(5);
  const model = new Model(new ReferenceBackend('float64'), { vocabSize: V, embeddingSize: 4, hiddenSize: 5, layers: 2, cell: 'lstm', zoneout: 0 });
  model.initialize(rng);
  const tokens = Int32Array.from({ length: 23 }, () => Math.floor(rng.uniform() * V));
  return { model, tokens };
}

/** Summed loss of predicting tokens[1..n) from a zero state in one stream. */
async function prefixLoss(model: Model, tokens: Int32Array, n: number): Promise<number> {
  const ev = new Evaluator(model, tokens.subarray(0, n), 1, 4);
  const { lossNats } = await ev.evaluate();
  ev.dispose();
  return lossNats;
}

describe('Evaluator', () => {
  it('with every pair counted, gives the unmasked sum and count', async () => {
    const { model, tokens } = setup();
    const plain = await new Evaluator(model, tokens, 3, 4).evaluate();
    const all = await new Evaluator(model, tokens, 3, 4, new Uint8Array(tokens.length).fill(1)).evaluate();
    expect(all.predictions).toBe(plain.predictions);
    expect(all.lossNats).toBeCloseTo(plain.lossNats, 10);
  });

  it('leaves out exactly the loss of the pairs marked 0, while the state runs through them', async () => {
    const { model, tokens } = setup();
    const left = [2, 5, 6, 13, 21]; // pairs (j, j+1), across windows of 4 and the remainder
    const counted = new Uint8Array(tokens.length).fill(1);
    for (const j of left) counted[j] = 0;
    const full = await new Evaluator(model, tokens, 1, 4).evaluate();
    const masked = await new Evaluator(model, tokens, 1, 4, counted).evaluate();
    let expected = full.lossNats;
    // With one stream from a zero state, pair j's loss is the difference of two prefix sums.
    for (const j of left) expected -= (await prefixLoss(model, tokens, j + 2)) - (await prefixLoss(model, tokens, j + 1));
    expect(masked.predictions).toBe(full.predictions - left.length);
    expect(masked.lossNats).toBeCloseTo(expected, 9);
  });
});
