// Hostile inputs to the real bin/rnn: each is refused with its exit code and exactly one line on
// stderr (no stack unless RNN_DEBUG=1), and no existing checkpoint changes by a byte.

import * as fs from 'fs';
import * as path from 'path';
import { Run } from '../cli/helpers';
import { TINY, editHeader, expectRefusal, expectUnchanged, joinImage, rnn, snapshot, splitImage, tempDir } from './helpers';

const work = tempDir();
const ckdir = path.join(work, 'checkpoints');
const corpus = path.join(work, 'play.txt');
const other = path.join(work, 'other.txt');
const lines: string[] = [];
for (let i = 0; i < 60; i++) lines.push(`ROMEO: O gentle night ${i % 7}, thy stars are kind.`);
fs.writeFileSync(corpus, lines.join('\n'));
fs.writeFileSync(other, lines.join('\n').toUpperCase());
const file = (name: string, bytes: Buffer | string): string => {
  const p = path.join(work, name);
  fs.writeFileSync(p, bytes);
  return p;
};

let good: Buffer;
let before: Map<string, Buffer>;
// A run is saved as 'play' (beforeAll): a fresh run there gives --overwrite, and no bad input may touch that run even so.
const TRAIN = (src: string, ...more: string[]): string[] => ['train', src, ...TINY, '--max-iters', '3', '--checkpoint-dir', ckdir, '--name', 'play',
  ...(more.includes('--resume') ? [] : ['--overwrite']), ...more];

beforeAll(() => {
  const r = rnn(['train', corpus, ...TINY, '--max-iters', '5', '--checkpoint-dir', ckdir, '-q']);
  expect(r.code).toBe(0);
  good = fs.readFileSync(path.join(ckdir, 'play.safetensors'));
  before = snapshot(ckdir);
});

afterEach(() => expectUnchanged(ckdir, before));

interface Case {
  name: string;
  args: () => string[];
  code: number;
  message: RegExp;
  input?: string | Buffer;
}

/** A checkpoint image with one float in `tensor` replaced. */
function withValue(tensor: string, value: number): Buffer {
  const bytes = Buffer.from(good);
  const n = Number(bytes.readBigUInt64LE(0));
  const { header } = splitImage(bytes);
  const [begin] = (header[tensor] as { data_offsets: number[] }).data_offsets;
  bytes.writeFloatLE(value, 8 + n + begin);
  return bytes;
}
const SAMPLE = (ckpt: () => string): (() => string[]) => () => ['sample', '--checkpoint', ckpt(), '--length', '5', '--backend', 'reference', '--seed', '1', '-q'];
const damaged = (name: string, make: () => Buffer): (() => string[]) => SAMPLE(() => file(name, make()));

const corpusCases: Case[] = [
  { name: 'missing corpus', args: () => TRAIN(path.join(work, 'nope.txt')), code: 2, message: /no such file/ },
  { name: 'a directory', args: () => TRAIN(work), code: 2, message: /is a directory/ },
  { name: 'empty corpus', args: () => TRAIN(file('empty.txt', '')), code: 2, message: /is empty/ },
  { name: 'one character', args: () => TRAIN(file('one.txt', 'a')), code: 2, message: /has 1 characters.*at least 9/ },
  { name: 'shorter than seq-len + 1', args: () => TRAIN(file('short.txt', 'abcdefg')), code: 2, message: /at least 9 \(seq-len \+ 1\)/ },
  { name: 'an ELF binary', args: () => TRAIN(process.execPath), code: 2, message: /is an ELF executable .*not text/ },
  { name: 'a gzip file', args: () => TRAIN(file('x.gz', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6]))), code: 2, message: /gzip-compressed/ },
  { name: 'a checkpoint as the corpus', args: () => TRAIN(path.join(ckdir, 'play.safetensors')), code: 2, message: /safetensors checkpoint/ },
  { name: 'invalid UTF-8', args: () => TRAIN(file('latin1.txt', Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait '.repeat(5))]))), code: 2, message: /not valid UTF-8 at byte offset 3 \(line 1\)/ },
  { name: 'an overlong UTF-8 form', args: () => TRAIN(file('overlong.txt', Buffer.concat([Buffer.from('x\n'.repeat(20)), Buffer.from([0xc0, 0xaf])]))), code: 2, message: /not valid UTF-8 at byte offset 40 \(line 21\)/ },
  { name: 'a UTF-16 surrogate in UTF-8', args: () => TRAIN(file('surrogate.txt', Buffer.concat([Buffer.from('abcdefghij'), Buffer.from([0xed, 0xa0, 0x80])]))), code: 2, message: /not valid UTF-8 at byte offset 10/ },
  { name: 'a character cut off at the end', args: () => TRAIN(file('cut.txt', Buffer.concat([Buffer.from('abcdefghij'), Buffer.from([0xf0, 0x9f, 0x98])]))), code: 2, message: /ends in the middle of a UTF-8 character/ },
  { name: 'NUL bytes', args: () => TRAIN(file('nul.txt', 'abcdefghij\0klmnop')), code: 2, message: /NUL byte at byte offset 10/ },
  { name: 'a character device', args: () => TRAIN('/dev/zero'), code: 2, message: /not a regular file/ },
  { name: 'stdin that is empty', args: () => TRAIN('-'), input: '', code: 2, message: /stdin is empty/ },
  { name: 'stdin that ends mid-character', args: () => TRAIN('-'), input: Buffer.concat([Buffer.from('abcdefghijklmnop'), Buffer.from([0xe2, 0x82])]), code: 2, message: /stdin ends in the middle of a UTF-8 character/ },
  { name: 'stdin that ends too early', args: () => TRAIN('-'), input: 'abc', code: 2, message: /stdin has 3 characters/ },
  { name: 'UTF-16 with a BOM but an odd length', args: () => TRAIN(file('odd16.txt', Buffer.from([0xff, 0xfe, 0x61, 0x00, 0x62]))), code: 2, message: /odd number of bytes/ },
];

const optionCases: Case[] = [
  ['--hidden', 'NaN'], ['--hidden', 'Infinity'], ['--hidden', '-3'], ['--hidden', '0'], ['--hidden', '1e9'], ['--hidden', 'abc'],
  ['--hidden', '0x10'], ['--hidden', '1.5'], ['--lr', 'NaN'], ['--lr', '0'], ['--lr', '-1'], ['--clip-norm', 'Infinity'],
  ['--val-fraction', '1.5'], ['--seq-len', ''], ['--time', '0s'], ['--time', '99999h'], ['--time', 'soon'], ['--seed', '-1'],
  ['--threads', '1000'], ['--backend', 'cuda'],
].map(([flag, value]) => ({
  name: `train ${flag} '${value}'`, args: () => ['train', corpus, flag, value, '--checkpoint-dir', ckdir, '--name', 'play', '--overwrite'], code: 2,
  message: new RegExp(`^rnn: (option '${flag.replace(/[-]/g, '\\-')}|error: option)|argument .* is invalid|Allowed choices`),
}));
optionCases.push(
  { name: 'an unknown flag', args: () => ['train', corpus, '--hiden', '64'], code: 2, message: /unknown option '--hiden'/ },
  { name: 'a repeated flag', args: () => TRAIN(corpus, '--hidden', '16'), code: 2, message: /--hidden is given 2 times \('8', '16'\); give it once/ },
  { name: '--threads with --backend reference', args: () => TRAIN(corpus, '--threads', '2'), code: 2, message: /--threads .* --backend reference/ },
  { name: '--resume with a conflicting architecture', args: () => TRAIN(corpus, '--resume').map((a, i, all) => (all[i - 1] === '--hidden' ? '16' : a)), code: 2, message: /--hidden 16 conflicts with the checkpoint/ },
  { name: '--max-iters 0 without --time', args: () => ['train', corpus, '--max-iters', '0', '--checkpoint-dir', ckdir, '--name', 'play', '--overwrite'], code: 2, message: /--max-iters 0 needs a --time/ },
  { name: 'a model too large to fit', args: () => ['train', corpus, '--hidden', '8192', '--layers', '16', '--checkpoint-dir', ckdir, '--name', 'play', '--overwrite'], code: 2, message: /16x8192 LSTM .* needs about [\d.]+ GiB to train .*(holds at most|available).*: lower --hidden/ },
  { name: 'sample --length -1', args: () => ['sample', '--length', '-1'], code: 2, message: /'-1' is invalid/ },
  { name: 'sample --top-p 1.5', args: () => ['sample', '--top-p', '1.5'], code: 2, message: /'1.5' is invalid/ },
  { name: 'sample --top-k -3', args: () => ['sample', '--top-k', '-3'], code: 2, message: /'-3' is invalid/ },
  { name: 'sample --temp 0', args: () => ['sample', '--temp', '0'], code: 2, message: /'0' is invalid/ },
  { name: '--checkpoint-dir that is a file', args: () => ['train', corpus, ...TINY, '--checkpoint-dir', corpus], code: 2, message: /--checkpoint-dir .* is a file/ },
  { name: '--checkpoint-dir inside a file', args: () => ['train', corpus, ...TINY, '--checkpoint-dir', path.join(corpus, 'sub')], code: 2, message: /--checkpoint-dir .* is a file \(or inside one\)/ },
);

const checkpointCases: Case[] = [
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((tenth) => ({
    name: `a checkpoint truncated at ${tenth}/10`, args: damaged(`cut${tenth}.safetensors`, () => good.subarray(0, Math.floor((good.length * tenth) / 10))),
    code: 1, message: /truncated|too short|not valid JSON|not valid UTF-8/,
  })),
  { name: 'an empty checkpoint', args: damaged('empty.safetensors', () => Buffer.alloc(0)), code: 1, message: /0 bytes, too short/ },
  { name: 'a directory as the checkpoint', args: SAMPLE(() => work), code: 2, message: /no checkpoint/ },
  { name: 'a header length beyond the file', args: damaged('long.safetensors', () => { const b = Buffer.from(good); b.writeBigUInt64LE(BigInt(good.length)); return b; }), code: 1, message: /header length field says/ },
  { name: 'a header length of 2 GB', args: damaged('2g.safetensors', () => { const b = Buffer.from(good); b.writeBigUInt64LE(2n ** 31n); return b; }), code: 1, message: /header length field says 2147483648/ },
  { name: 'a header length of 2^62', args: damaged('2e62.safetensors', () => { const b = Buffer.from(good); b.writeBigUInt64LE(2n ** 62n); return b; }), code: 1, message: /header length field says 4611686018427387904/ },
  { name: 'a header that is not JSON', args: damaged('notjson.safetensors', () => joinImage('{"a": nope}', Buffer.alloc(0))), code: 1, message: /not valid JSON/ },
  { name: 'a header of the wrong shape', args: damaged('array.safetensors', () => joinImage('[1, 2, 3]', Buffer.alloc(0))), code: 1, message: /not a JSON object/ },
  { name: 'a tensor named twice', args: damaged('dup.safetensors', () => {
    const { header, data } = splitImage(good);
    const json = JSON.stringify(header);
    const entry = `"decoder.bias":${JSON.stringify(header['decoder.bias'])}`;
    return joinImage(json.replace(/}$/, `,${entry}}`), data);
  }), code: 1, message: /two tensors named "decoder.bias"/ },
  { name: 'an unknown dtype', args: damaged('dtype.safetensors', () => editHeader(good, (h) => { h['decoder.bias'].dtype = 'Q4'; })), code: 1, message: /dtype Q4; rnn reads only F32/ },
  { name: 'shapes inconsistent with the config', args: damaged('shape.safetensors', () => editHeader(good, (h) => {
    const m = JSON.parse(h.__metadata__.model_config); m.embeddingSize = 5; h.__metadata__.model_config = JSON.stringify(m);
  })), code: 1, message: /has shape \[.*\], expected/ },
  { name: 'overlapping offsets', args: damaged('overlap.safetensors', () => editHeader(good, (h) => { const o = h['decoder.weight'].data_offsets; h['decoder.weight'].data_offsets = [o[0] - 4, o[1] - 4]; })), code: 1, message: /overlapping tensors: "decoder.weight" starts at byte \d+, inside "decoder.bias"/ },
  { name: 'gapped offsets', args: damaged('gap.safetensors', () => editHeader(good, (h) => {
    for (const e of Object.values(h)) if ((e as any).data_offsets) (e as any).data_offsets = (e as any).data_offsets.map((o: number) => o + 4);
  })), code: 1, message: /gap in its tensor data/ },
  { name: 'out-of-range offsets', args: damaged('range.safetensors', () => editHeader(good, (h) => {
    const last = Object.values(h).filter((e: any) => e.data_offsets).sort((a: any, b: any) => b.data_offsets[1] - a.data_offsets[1])[0] as any;
    last.shape = [last.shape.reduce((p: number, d: number) => p * d, 1) + 1000]; last.data_offsets = [last.data_offsets[0], last.data_offsets[1] + 4000];
  })), code: 1, message: /truncated: header says/ },
  { name: 'metadata values that are not strings', args: damaged('meta.safetensors', () => editHeader(good, (h) => { h.__metadata__.step = 5; })), code: 1, message: /metadata "step" that is a number/ },
  { name: 'an absurd config', args: damaged('absurd.safetensors', () => editHeader(good, (h) => {
    const m = JSON.parse(h.__metadata__.model_config); m.hiddenSize = 1e9; h.__metadata__.model_config = JSON.stringify(m);
  })), code: 1, message: /describes a 1x1000000000 model .* larger than the/ },
  { name: 'NaN weights', args: damaged('nan.safetensors', () => withValue('lstm.weight_hh_l0', NaN)), code: 1, message: /tensor 'lstm.weight_hh_l0' holds NaN at value 0/ },
  { name: 'Infinity weights', args: damaged('inf.safetensors', () => withValue('decoder.bias', Infinity)), code: 1, message: /tensor 'decoder.bias' holds Infinity/ },
  { name: 'a future format version', args: damaged('future.safetensors', () => editHeader(good, (h) => { h.__metadata__.format_version = '7'; })), code: 1, message: /format 7, newer than this rnn reads \(1\); upgrade rnn/ },
  { name: 'not an rnn checkpoint', args: damaged('foreign.safetensors', () => editHeader(good, (h) => { delete h.__metadata__.format; })), code: 1, message: /not an rnn checkpoint/ },
  { name: '--resume on another corpus', args: () => TRAIN(other, '--resume'), code: 2, message: /--resume: .*play.safetensors was trained on another text \(.*play.txt: sha256 [0-9a-f]{12}…, [\d,]+ characters\), not this one \(.*other.txt: sha256 [0-9a-f]{12}…/ },
];

const all = [...corpusCases, ...optionCases, ...checkpointCases];

describe(`${all.length} hostile inputs`, () => {
  it('counts at least 40', () => expect(all.length).toBeGreaterThanOrEqual(40));
  it.each(all.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const run: Run = rnn(c.args(), { input: c.input as string, cwd: work, env: { RNN_BUNDLED_DIR: path.join(work, 'none') } });
    expectRefusal(run, c.code, c.message);
    expect(run.stdout).toBe('');
  });
  it('prints the stack only with RNN_DEBUG=1', () => {
    const run = rnn(TRAIN(file('nul2.txt', 'ab\0cd')), { cwd: work, env: { RNN_DEBUG: '1' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^rnn: .*NUL byte.*\n.*UsageError/);
    expect(run.stderr).toMatch(/\n\s+at /);
  });
});

describe('awkward text that is accepted', () => {
  // Each trains, `rnn eval` counts its code points, and sampled text never splits a surrogate pair.
  const astral = '😀 e\u0301 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{1F469}\u200D\u{1F4BB}\n';
  const texts: Array<[string, Buffer, string]> = [
    ['CRLF line ends', Buffer.from('one line\r\nand another\r\n'.repeat(20)), 'one line\r\nand another\r\n'.repeat(20)],
    ['a UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('plain words here. '.repeat(20))]), 'plain words here. '.repeat(20)],
    ['UTF-16 LE with its BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(astral.repeat(12), 'utf16le')]), astral.repeat(12)],
    ['UTF-16 BE with its BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(astral.repeat(12), 'utf16le').swap16()]), astral.repeat(12)],
    ['astral characters and combining marks', Buffer.from(astral.repeat(12)), astral.repeat(12)],
  ];
  it.each(texts)('%s', (_name, bytes, text) => {
    const dir = tempDir();
    const src = path.join(dir, 'text.txt');
    fs.writeFileSync(src, bytes);
    const flags = ['--backend', 'reference', '--checkpoint-dir', dir];
    expect(rnn(['train', src, ...TINY.slice(2), '--max-iters', '3', '--checkpoint-dir', dir, '--backend', 'reference', '-q']).code).toBe(0);
    const evaluated = rnn(['eval', src, '--json', ...flags, '--checkpoint', 'text']);
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.stdout).characters).toBe([...text].length);
    const sampled = rnn(['sample', '--checkpoint', 'text', '--length', '400', '--seed', '3', '-q', ...flags]);
    expect(sampled.code).toBe(0);
    expect([...sampled.stdout].length).toBe(400); // exactly the sample: no newline into a pipe
    expect((sampled.stdout as unknown as { isWellFormed(): boolean }).isWellFormed()).toBe(true);
  });
});
