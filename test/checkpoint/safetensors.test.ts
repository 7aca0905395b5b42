// The safetensors codec: round trip, the byte layout by hand, and every way the reader refuses a file.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CheckpointError,
  NamedTensor,
  decodeSafetensors,
  encodeSafetensors,
  openSafetensorsFile,
  readSafetensorsFile,
} from '../../src/checkpoint/safetensors';
import { Rng } from '../../src/engine/rng';
import { f16Value, widenF16 } from '../../src/checkpoint/f16';

const SOURCE = 'checkpoints/x.safetensors';

function randomTensor(rng: Rng, name: string, shape: number[]): NamedTensor {
  const count = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = rng.uniform() * 2 - 1;
  return { name, shape, data };
}

/** A file image from a raw header object and data section, with an optional lying length field. */
function rawFile(header: unknown, data: Buffer, opts: { headerLength?: bigint; headerText?: Buffer } = {}): Buffer {
  const json = opts.headerText ?? Buffer.from(JSON.stringify(header), 'utf8');
  const lengthField = Buffer.alloc(8);
  lengthField.writeBigUInt64LE(opts.headerLength ?? BigInt(json.length));
  return Buffer.concat([lengthField, json, data]);
}

function f32(entry: { shape: number[]; data_offsets: number[] }, dtype = 'F32'): unknown {
  return { dtype, ...entry };
}

/** Asserts a CheckpointError whose one-line message names the file and matches `pattern`. */
function expectRefusal(bytes: Buffer, pattern: RegExp): void {
  let caught: unknown;
  try {
    decodeSafetensors(bytes, SOURCE);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  const message = (caught as Error).message;
  expect(message).toMatch(pattern);
  expect(message).toContain(SOURCE);
  expect(message).not.toMatch(/\n/);
}

describe('encode and decode', () => {
  test('round trip keeps names, shapes, values bit for bit, and metadata', () => {
    const rng = new Rng(7);
    const tensors = [
      randomTensor(rng, 'lstm.weight_ih_l0', [20, 4]),
      randomTensor(rng, 'embedding.weight', [7, 4]),
      randomTensor(rng, 'decoder.bias', [7]),
      { name: 'scalar', shape: [], data: new Float32Array([Math.PI]) },
      { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
      { name: 'specials', shape: [4], data: new Float32Array([NaN, Infinity, -Infinity, -0]) },
    ];
    const metadata = { config: JSON.stringify({ hiddenSize: 5, layers: 2 }), step: '12', 'ünïcode ✓': '🙂' };
    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata), SOURCE);

    expect(decoded.metadata).toEqual(metadata);
    expect([...decoded.tensors.keys()]).toEqual([...tensors.map((t) => t.name)].sort());
    for (const tensor of tensors) {
      const got = decoded.tensors.get(tensor.name)!;
      expect(got.shape).toEqual(tensor.shape);
      // Compare bit patterns so NaN and -0 count too.
      expect(Buffer.from(got.data.buffer)).toEqual(Buffer.from(tensor.data.buffer));
    }
  });

  test('empty metadata omits __metadata__, as the reference writer does', () => {
    const bytes = encodeSafetensors([{ name: 'a', shape: [1], data: new Float32Array([1]) }], {});
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(bytes.subarray(8, 8 + headerLength).toString('utf8')).not.toContain('__metadata__');
    expect(decodeSafetensors(bytes, SOURCE).metadata).toEqual({});
  });

  test('the byte layout of a tiny file, by hand', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'b', shape: [1], data: new Float32Array([0.5]) },
        { name: 'a', shape: [2], data: new Float32Array([1, -2]) },
      ],
      { k: 'v' },
    );
    const json =
      '{"__metadata__":{"k":"v"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    const padded = Math.ceil(json.length / 8) * 8;
    expect(padded % 8).toBe(0);

    // 8-byte little-endian header length: low byte first, the rest zero.
    expect([...bytes.subarray(0, 8)]).toEqual([padded & 0xff, padded >> 8, 0, 0, 0, 0, 0, 0]);
    // The header: JSON sorted by name, then spaces up to the 8-byte boundary.
    expect(bytes.subarray(8, 8 + json.length).toString('utf8')).toBe(json);
    expect(bytes.subarray(8 + json.length, 8 + padded).toString('latin1')).toBe(' '.repeat(padded - json.length));
    // Data: a = [1, -2], then b = [0.5], little-endian IEEE 754.
    expect([...bytes.subarray(8 + padded)]).toEqual([
      0x00, 0x00, 0x80, 0x3f, // 1.0
      0x00, 0x00, 0x00, 0xc0, // -2.0
      0x00, 0x00, 0x00, 0x3f, // 0.5
    ]);
    expect(bytes.length).toBe(8 + padded + 12);
  });

  test('decodes a file whose data section is not 4-byte aligned (other writers do not pad)', () => {
    const header = { x: f32({ shape: [2], data_offsets: [0, 8] }) };
    const json = Buffer.from(JSON.stringify(header) + ' ', 'utf8');
    const data = Buffer.from(new Float32Array([3.5, -1.25]).buffer);
    const padTo = json.length % 4 === 0 ? Buffer.concat([json, Buffer.from(' ')]) : json;
    const decoded = decodeSafetensors(rawFile(null, data, { headerText: padTo }), SOURCE);
    expect([...decoded.tensors.get('x')!.data]).toEqual([3.5, -1.25]);
  });

  test('the writer refuses what it cannot represent', () => {
    const one = new Float32Array([1]);
    expect(() => encodeSafetensors([{ name: 'a', shape: [2], data: one }], {})).toThrow(/holds 2 values but the data has 1/);
    expect(() => encodeSafetensors([{ name: 'a', shape: [1], data: one }, { name: 'a', shape: [1], data: one }], {})).toThrow(
      /two tensors named "a"/,
    );
    expect(() => encodeSafetensors([{ name: '__metadata__', shape: [1], data: one }], {})).toThrow(/reserved/);
    const badMetadata = { step: 3 } as unknown as Record<string, string>;
    expect(() => encodeSafetensors([], badMetadata)).toThrow(/"step" is a number; safetensors metadata values must be strings/);
  });
});

describe('the reader refuses a damaged file with a one-line message', () => {
  const tinyHeader = { a: f32({ shape: [2], data_offsets: [0, 8] }) };
  const eightBytes = Buffer.alloc(8);

  test('a file shorter than the length field', () => {
    expectRefusal(Buffer.from([1, 2, 3]), /3 bytes, too short to be a safetensors file/);
  });

  test('a header length larger than the file', () => {
    expectRefusal(rawFile(tinyHeader, eightBytes, { headerLength: 1n << 40n }), /header length field says 1099511627776 bytes/);
  });

  test('a header length over the 100 MB limit', () => {
    // A length within the file size but over the limit; faked with a short buffer is not possible,
    // so the limit is checked on a file image that really is that large (zero-filled, cheap).
    const big = Buffer.alloc(8 + 100_000_008);
    big.writeBigUInt64LE(100_000_008n, 0);
    expectRefusal(big, /100000008-byte header, over the 100000000-byte limit/);
  });

  test('a header that is not JSON, or not an object, or not UTF-8', () => {
    expectRefusal(rawFile(null, eightBytes, { headerText: Buffer.from('{"a": {\n"dtype": ') }), /not valid JSON/);
    expectRefusal(rawFile([1, 2], Buffer.alloc(0)), /not a JSON object/);
    expectRefusal(rawFile(null, Buffer.alloc(0), { headerText: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), /not valid UTF-8/);
  });

  test('metadata that is not string to string', () => {
    expectRefusal(rawFile({ __metadata__: { step: 3 }, ...tinyHeader }, eightBytes), /metadata "step" that is a number/);
    expectRefusal(rawFile({ __metadata__: { step: null }, ...tinyHeader }, eightBytes), /metadata "step" that is a null/);
    expectRefusal(rawFile({ __metadata__: ['x'], ...tinyHeader }, eightBytes), /__metadata__ that is not a JSON object/);
  });

  test.each(['BF16', 'F64', 'I64'])('dtype %s is named, with how to convert', (dtype) => {
    const header = { 'lstm.weight_ih_l0': f32({ shape: [2], data_offsets: [0, 8] }, dtype) };
    expectRefusal(rawFile(header, eightBytes), new RegExp(`"lstm.weight_ih_l0" has dtype ${dtype}; rnn reads only F32 \\(float32\\) and F16.*v\\.float\\(\\)`));
  });

  test('F16 tensors are read widened to float32, exactly, by every reader', () => {
    // 1, -2, 0.5, 65504 (the largest half), 2^-24 (the smallest subnormal), 0.1 (rounds)
    const values = Float32Array.from([1, -2, 0.5, 65504, 2 ** -24, 0.1]);
    const bytes = encodeSafetensors([{ name: 'w', shape: [2, 3], data: values }], {}, { dtype: 'F16' });
    expect(JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()).w.dtype).toBe('F16');
    const want = [1, -2, 0.5, 65504, 2 ** -24, Math.fround(0.0999755859375)];
    expect(Array.from(decodeSafetensors(bytes, 'mem').tensors.get('w')!.data)).toEqual(want);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-f16-')), 'w.safetensors');
    fs.writeFileSync(file, bytes);
    const open = openSafetensorsFile(file);
    try {
      expect(Array.from(open.read('w').data)).toEqual(want);
      const tail = new Float32Array(2);
      open.readValues('w', 4, tail);
      expect(Array.from(tail)).toEqual(want.slice(4));
    } finally {
      open.close();
    }
  });

  test('an F16 tensor whose offsets span F32 bytes is refused', () => {
    expectRefusal(rawFile({ a: f32({ shape: [1], data_offsets: [0, 8] }, 'F16') }, eightBytes), /needs 2 bytes of F16/);
  });

  test('a shape that is not a list of non-negative integers', () => {
    expectRefusal(rawFile({ a: f32({ shape: [-2], data_offsets: [0, 8] }) }, eightBytes), /shape \[-2\]; a shape is a list/);
    expectRefusal(rawFile({ a: f32({ shape: [2.5], data_offsets: [0, 8] }) }, eightBytes), /shape \[2.5\]/);
    expectRefusal(rawFile({ a: { dtype: 'F32', data_offsets: [0, 8] } }, eightBytes), /has shape undefined/);
  });

  test('data_offsets that are malformed', () => {
    expectRefusal(rawFile({ a: f32({ shape: [2], data_offsets: [8, 0] }) }, eightBytes), /data_offsets \[8,0\]; they must be/);
    expectRefusal(rawFile({ a: f32({ shape: [2], data_offsets: [0] }) }, eightBytes), /data_offsets \[0\]/);
  });

  test('a shape whose size disagrees with its offsets', () => {
    expectRefusal(rawFile({ a: f32({ shape: [3], data_offsets: [0, 8] }) }, eightBytes), /shape \[3\], which needs 12 bytes of F32, but its data_offsets \[0, 8\] span 8/);
    // A hostile shape whose byte count would round in float64 arithmetic is still caught.
    const huge = f32({ shape: [2 ** 26, 2 ** 26, 2 ** 26], data_offsets: [0, 8] });
    expectRefusal(rawFile({ a: huge }, eightBytes), /which needs 1208925819614629174706176 bytes/);
  });

  test('overlapping tensors', () => {
    const header = { a: f32({ shape: [2], data_offsets: [0, 8] }), b: f32({ shape: [2], data_offsets: [4, 12] }) };
    expectRefusal(rawFile(header, Buffer.alloc(12)), /overlapping tensors: "b" starts at byte 4, inside "a"/);
  });

  test('a gap between tensors', () => {
    const header = { a: f32({ shape: [1], data_offsets: [0, 4] }), b: f32({ shape: [1], data_offsets: [8, 12] }) };
    expectRefusal(rawFile(header, Buffer.alloc(12)), /gap in its tensor data: bytes 4..8/);
  });

  test('a truncated data section', () => {
    const header = { a: f32({ shape: [2], data_offsets: [0, 8] }), b: f32({ shape: [300], data_offsets: [8, 1208] }) };
    expectRefusal(rawFile(header, Buffer.alloc(1000)), /is truncated: header says 1208 bytes of tensor data, the file has 1000; the file is damaged/);
  });

  test('trailing bytes after the last tensor', () => {
    expectRefusal(rawFile(tinyHeader, Buffer.alloc(11)), /has 3 bytes after its last tensor/);
  });

  test('a complete file cut short anywhere is refused, never misread', () => {
    const bytes = encodeSafetensors([randomTensor(new Rng(1), 'w', [3, 5])], { step: '1' });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeSafetensors(bytes.subarray(0, cut), SOURCE)).toThrow(CheckpointError);
    }
  });
});

describe('readSafetensorsFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-safetensors-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('reads what encode wrote', () => {
    const file = path.join(dir, 'model.safetensors');
    const tensor = randomTensor(new Rng(3), 'decoder.weight', [7, 5]);
    fs.writeFileSync(file, encodeSafetensors([tensor], { vocab: '["a","b"]' }));
    const read = readSafetensorsFile(file);
    expect(read.metadata).toEqual({ vocab: '["a","b"]' });
    expect(read.tensors.get('decoder.weight')!.data).toEqual(tensor.data);
  });

  test('a missing file or a directory is named, with what to do', () => {
    const missing = path.join(dir, 'nope.safetensors');
    expect(() => readSafetensorsFile(missing)).toThrow(new CheckpointError(`cannot open checkpoint ${missing}: no such file; check the path (checkpoints are written by \`rnn train\`)`));
    expect(() => readSafetensorsFile(dir)).toThrow(CheckpointError);
    expect(() => readSafetensorsFile(dir)).toThrow(/is not a file|is a directory/);
  });

  test('a header that promises terabytes fails on the size check, before any allocation', () => {
    const file = path.join(dir, 'liar.safetensors');
    const header = { a: f32({ shape: [1 << 30, 1 << 10], data_offsets: [0, 2 ** 42] }) };
    fs.writeFileSync(file, rawFile(header, Buffer.alloc(16)));
    expect(() => readSafetensorsFile(file)).toThrow(`${file} is truncated: header says 4398046511104 bytes of tensor data, the file has 16`);
  });

  test('reads only the wanted tensors, with the same values as a full read', () => {
    const file = path.join(dir, 'ckpt.safetensors');
    const rng = new Rng(5);
    const weight = randomTensor(rng, 'lstm.weight_hh_l0', [8, 2]);
    const moment = randomTensor(rng, 'optimizer.exp_avg.lstm.weight_hh_l0', [8, 2]);
    const odd = randomTensor(rng, 'decoder.bias', [3]); // 12 bytes: later tensors start off 8-byte alignment
    fs.writeFileSync(file, encodeSafetensors([weight, moment, odd], {}));
    const some = readSafetensorsFile(file, (name) => !name.startsWith('optimizer.'));
    expect([...some.tensors.keys()]).toEqual(['decoder.bias', 'lstm.weight_hh_l0']);
    expect(some.tensors.get('lstm.weight_hh_l0')!.data).toEqual(weight.data);
    expect(some.tensors.get('decoder.bias')!.data).toEqual(odd.data);
    expect(readSafetensorsFile(file).tensors.get('optimizer.exp_avg.lstm.weight_hh_l0')!.data).toEqual(moment.data);
  });

  test('a partial read still validates every tensor against the file size', () => {
    const file = path.join(dir, 'cut.safetensors');
    const rng = new Rng(6);
    const image = encodeSafetensors([randomTensor(rng, 'a', [4]), randomTensor(rng, 'optimizer.b', [4])], {});
    fs.writeFileSync(file, image.subarray(0, image.length - 4)); // the unwanted tensor is cut short
    expect(() => readSafetensorsFile(file, (name) => name === 'a')).toThrow(/is truncated: header says 32 bytes of tensor data, the file has 28/);
  });

  test('an open file names its tensors, reads one by name, and refuses an unknown name', () => {
    const file = path.join(dir, 'open.safetensors');
    const tensor = randomTensor(new Rng(7), 'embedding.weight', [3, 4]);
    fs.writeFileSync(file, encodeSafetensors([tensor], { format: 'x' }));
    const open = openSafetensorsFile(file);
    try {
      expect(open.metadata).toEqual({ format: 'x' });
      expect([...open.names()]).toEqual(['embedding.weight']);
      expect(open.read('embedding.weight')).toEqual(tensor);
      expect(() => open.read('nope')).toThrow(new CheckpointError(`${file} has no tensor "nope"`));
      expect(open.shapeOf('embedding.weight')).toEqual([3, 4]);
      const some = new Float32Array(5);
      open.readValues('embedding.weight', 7, some);
      expect(some).toEqual(tensor.data.subarray(7, 12));
      expect(() => open.readValues('embedding.weight', 8, some)).toThrow(/values \[8, 13\) outside embedding.weight's 12/);
      const reused = new Float32Array(20).fill(9);
      expect(open.read('embedding.weight', reused).data).toEqual(tensor.data);
      expect(reused[12]).toBe(9);
    } finally {
      open.close();
    }
  });
});

describe('widenF16', () => {
  it('widens every one of the 65,536 halves exactly as f16Value does, from unaligned bytes too', () => {
    const bytes = new Uint8Array(1 + 2 * 65536); // offset by one byte: no Uint16Array view would do
    for (let h = 0; h < 65536; h++) {
      bytes[1 + 2 * h] = h & 0xff;
      bytes[2 + 2 * h] = h >>> 8;
    }
    const out = new Float32Array(65536);
    widenF16(bytes.subarray(1), out);
    const want = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) want[h] = f16Value(h);
    expect(Buffer.from(out.buffer).equals(Buffer.from(want.buffer))).toBe(true); // NaN as f16Value gives it
    expect(() => widenF16(new Uint8Array(3), new Float32Array(2))).toThrow(/3 bytes for 2 values/);
  });
});
