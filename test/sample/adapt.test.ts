// rnn sample --adapt (src/sample/adapt.ts): the rows carry on from the adapted reading of the prime.

import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Rng } from '../../src/engine/rng';
import { Vocab } from '../../src/data/vocab';
import { Sampler } from '../../src/sample/sampler';
import { adaptToPrime } from '../../src/sample/adapt';
import { DynamicSettings } from '../../src/engine/dynamic';

const TEXT = 'to be or not to be, that is the question: whether tis nobler in the mind to suffer\n';
const vocab = Vocab.fromText(TEXT);

function model(): Model {
  const m = new Model(new ReferenceBackend('float64'), { vocabSize: vocab.size, embeddingSize: 4, hiddenSize: 6, layers: 2, cell: 'lstm', zoneout: 0 });
  m.initialize(new Rng(3));
  return m;
}

async function draws(sampler: Sampler, n: number): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < n; i++) out.push(Array.from(await sampler.step({ temperature: 1, topK: 0, topP: 1, greedy: false })));
  return out;
}

describe('adaptToPrime', () => {
  it('with a vanishing learning rate, samples exactly as Sampler.prime does (the state and next input carried right)', async () => {
    const settings: DynamicSettings = { learningRate: 1e-300, decay: 0, seqLen: 7, rule: 'sgd' };
    const adapted = new Sampler(model(), vocab, [new Rng(1), new Rng(2)]);
    await adaptToPrime(adapted, vocab.encode(TEXT), TEXT, settings, 1);
    const plain = new Sampler(model(), vocab, [new Rng(1), new Rng(2)]);
    await plain.prime(TEXT);
    expect(await draws(adapted, 30)).toEqual(await draws(plain, 30));
  });

  it('learns the prime: each pass scores it lower, and the samples change', async () => {
    const settings: DynamicSettings = { learningRate: 0.5, decay: 0, seqLen: 10, rule: 'sgd' };
    const adapted = new Sampler(model(), vocab, new Rng(1));
    const losses = await adaptToPrime(adapted, vocab.encode(TEXT), TEXT, settings, 3);
    expect(losses).toHaveLength(3);
    expect(losses[1]).toBeLessThan(losses[0]);
    expect(losses[2]).toBeLessThan(losses[1]);
    const plain = new Sampler(model(), vocab, new Rng(1));
    await plain.prime(TEXT);
    expect(await draws(adapted, 30)).not.toEqual(await draws(plain, 30));
  });
});
