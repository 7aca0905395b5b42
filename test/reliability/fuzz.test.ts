// Fuzzing the checkpoint reader and properties of text handling, with fast-check.
//
// RNN_FUZZ_RUNS sets the number of mutated checkpoints (default 10,000, the CI-sized run; see
// docs/guarantees.md for the long run and how long it took).

import * as fc from 'fast-check';
import { isUtf8 } from 'buffer';
import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint, openCheckpoint, restoreModel, saveCheckpoint } from '../../src/checkpoint/checkpoint';
import { CheckpointError } from '../../src/checkpoint/safetensors';
import { defaultTrainConfig } from '../../src/config';
import { encodeCorpus } from '../../src/data/corpus';
import { Vocab, encodeKnown } from '../../src/data/vocab';
import { Model } from '../../src/engine/model';
import { Adam } from '../../src/engine/optimizer';
import { Rng } from '../../src/engine/rng';
import { UsageError } from '../../src/errors';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { tempDir } from './helpers';

const RUNS = Number(process.env.RNN_FUZZ_RUNS ?? 10000);
// Each case is written to a file (the reader under test reads files): in memory where the
// machine has /dev/shm, as writing 10,000 files to disk here took 3 ms each.
const dir = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/rnn-fuzz-') : tempDir('rnn-fuzz-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A small, valid training checkpoint (weights, Adam moments, carried state). */
async function validCheckpoint(): Promise<Buffer> {
  const be = new ReferenceBackend('float32');
  const vocab = Vocab.fromText('abcde');
  const model = new Model(be, { vocabSize: 5, embeddingSize: 2, hiddenSize: 3, layers: 2, cell: 'lstm', zoneout: 0 });
  model.initialize(new Rng(7));
  const optimizer = new Adam(be, model.params, 0.01);
  const train = { ...defaultTrainConfig(), batchSize: 2, seqLen: 3 };
  const file = path.join(dir, 'valid.safetensors');
  await saveCheckpoint(file, {
    model: model.config, train, vocab, corpus: { source: 'x', sha256: '0'.repeat(64), characters: 10 }, adamStep: 3, createdAt: 'now',
    progress: { iteration: 3, epoch: 0, window: 1, bestValLoss: 1.5, lastValLoss: 1.5, lastTrainLoss: 1.6, elapsedMs: 1, history: [] },
  }, model, optimizer, model.workspace(2, 3));
  return fs.readFileSync(file);
}

type Mutation =
  | { kind: 'flip'; at: number[]; bit: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; remove: number; insert: number[] }
  | { kind: 'header'; at: number; char: string }
  | { kind: 'length'; value: bigint };

function mutate(bytes: Buffer, m: Mutation): Buffer {
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  const out = Buffer.from(bytes);
  switch (m.kind) {
    case 'flip':
      m.at.forEach((at, i) => { out[at % out.length] ^= 1 << m.bit[i % m.bit.length]; });
      return out;
    case 'truncate':
      return out.subarray(0, m.at % out.length);
    case 'splice': {
      const at = m.at % out.length;
      return Buffer.concat([out.subarray(0, at), Buffer.from(m.insert), out.subarray(Math.min(out.length, at + m.remove))]);
    }
    case 'header':
      out[8 + (m.at % (headerEnd - 8))] = m.char.charCodeAt(0);
      return out;
    case 'length':
      out.writeBigUInt64LE(m.value);
      return out;
  }
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), bit: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), remove: fc.nat({ max: 64 }), insert: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 }) }),
  fc.record({ kind: fc.constant('header' as const), at: fc.nat(), char: fc.constantFrom(...'{}[]":,0123456789-.eE tfn\\') }),
  fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
);

describe('checkpoint fuzzer', () => {
  it(`${RUNS.toLocaleString('en-US')} mutated checkpoints load as a valid model or fail with a CheckpointError`, async () => {
    const valid = await validCheckpoint();
    const file = path.join(dir, 'mutant.safetensors');
    const outcomes = { loaded: 0, refused: 0 };
    fc.assert(fc.property(mutation, (m) => {
      const bytes = mutate(valid, m);
      fs.writeFileSync(file, bytes);
      try {
        const ckpt = loadCheckpoint(file, { weightsOnly: true });
        // A config that passed is bounded by the file: building the model allocates little.
        const { vocabSize: V, embeddingSize: E, hiddenSize: H } = ckpt.meta.model;
        expect(V * E + H * H + H * V).toBeLessThanOrEqual(bytes.length);
        const model = new Model(new ReferenceBackend('float32'), ckpt.meta.model);
        restoreModel(ckpt, model);
        const open = openCheckpoint(file);
        try {
          open.restoreModel(model);
        } finally {
          open.close();
        }
        outcomes.loaded++;
      } catch (err) {
        if (!(err instanceof CheckpointError || err instanceof UsageError)) throw err;
        expect(err.message).not.toMatch(/\n/);
        outcomes.refused++;
      }
    }), { numRuns: RUNS, seed: 20261201 });
    expect(outcomes.loaded + outcomes.refused).toBe(RUNS);
    process.stdout.write(`checkpoint fuzzer: ${RUNS} cases, ${outcomes.refused} refused, ${outcomes.loaded} loaded\n`);
  });
});

/** Strings of code points (no lone surrogates: the text policy refuses them at the door). */
const codePoint = fc.integer({ min: 1, max: 0x10ffff }).filter((cp) => cp < 0xd800 || cp > 0xdfff);
const text = fc.array(fc.oneof(codePoint, fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0x0a, 0x0d, 0x301, 0x1f600, 0xfeff)), { minLength: 1, maxLength: 200 })
  .map((points) => String.fromCodePoint(...points));

/** Cuts bytes into chunks at the given positions: the corpus reader sees file reads of any size. */
function chunked(bytes: Buffer, cuts: number[]): () => Iterable<Uint8Array> {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    parts.push(bytes.subarray(from, c));
    from = c;
  }
  return () => parts;
}

describe('text properties', () => {
  it('encode∘decode is the identity on strings of code points', () => {
    fc.assert(fc.property(text, (s) => {
      const vocab = Vocab.fromText(s);
      expect(vocab.decode(vocab.encode(s))).toBe(s);
      expect(vocab.encode(s).length).toBe([...s].length);
    }), { numRuns: 2000, seed: 1 });
  });

  it('decoding any ids never yields a lone surrogate', () => {
    fc.assert(fc.property(text, fc.array(fc.nat()), (s, picks) => {
      const vocab = Vocab.fromText(s);
      const out = vocab.decode(picks.map((p) => p % vocab.size));
      expect((out as unknown as { isWellFormed(): boolean }).isWellFormed()).toBe(true);
    }), { numRuns: 2000, seed: 2 });
  });

  it('rnn eval counts characters as code points', () => {
    fc.assert(fc.property(text, text, (seen, evaluated) => {
      const known = encodeKnown(evaluated, Vocab.fromText(seen));
      expect(known.characters).toBe([...evaluated].length);
      expect(known.ids.length + [...known.unknown.values()].reduce((a, b) => a + b, 0)).toBe(known.characters);
    }), { numRuns: 2000, seed: 3 });
  });

  it('the corpus reader gives the same ids as Vocab for any UTF-8 text, however its reads are cut', () => {
    fc.assert(fc.property(text, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (s, cuts, bom) => {
      const body = Buffer.from(s, 'utf8');
      const bytes = bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
      let encoded: ReturnType<typeof encodeCorpus>;
      try {
        encoded = encodeCorpus('t', chunked(bytes, cuts));
      } catch (err) {
        if (bom ? s === '' : s.replace(/^\uFEFF/, '') === '') return; // only a BOM: empty, refused
        throw err;
      }
      // A leading U+FEFF is a byte-order mark, whether or not one was added.
      const expected = bom ? s : s.replace(/^\uFEFF/, '');
      if (expected === '') return;
      const vocab = Vocab.fromText(expected);
      expect(encoded.vocab.chars).toEqual(vocab.chars);
      expect(Array.from(encoded.ids)).toEqual(Array.from(vocab.encode(expected)));
      expect(encoded.characters).toBe([...expected].length);
    }), { numRuns: 1000, seed: 4 });
  });

  it('the corpus reader refuses exactly the bytes that are not UTF-8 text (or hold NUL), however cut', () => {
    const bytesArb = fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0x61, max: 0x7a })), { minLength: 1, maxLength: 40 });
    fc.assert(fc.property(bytesArb, fc.array(fc.nat(), { maxLength: 6 }), (raw, cuts) => {
      const bytes = Buffer.from(raw);
      // The binary signatures and BOMs are decided by the first bytes; keep to plain text here.
      if (bytes[0] === 0xef || bytes[0] === 0xff || bytes[0] === 0xfe || bytes[0] === 0x1f) return;
      const textual = isUtf8(bytes) && !bytes.includes(0);
      let accepted = true;
      try {
        encodeCorpus('t', chunked(bytes, cuts));
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        accepted = false;
      }
      if (accepted !== textual) expect({ bytes: [...bytes], accepted }).toEqual({ bytes: [...bytes], accepted: textual });
    }), { numRuns: 2000, seed: 5 });
  });
});
