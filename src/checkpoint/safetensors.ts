// Reads, writes and validates the safetensors format (F32, and F16 decoded to float32), knowing nothing of the engine.
//
// Layout (https://github.com/huggingface/safetensors, "Format"):
//   [8 bytes]  N: little-endian u64, the header length in bytes
//   [N bytes]  UTF-8 JSON object: { "__metadata__": {string: string},
//                                   "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ... }
//   [rest]     the data section: raw little-endian tensor bytes; offsets are relative to its start
// The reference writer sorts tensors by name, lays them out contiguously and pads the header
// with spaces to a multiple of 8, so every tensor starts 8-byte aligned; we do the same.
//
// The reader trusts nothing: it checks the header against the file size before it allocates the
// data section, so a damaged or hostile file fails with a one-line message instead of an
// out-of-memory or a tensor full of garbage.

import * as fs from 'fs';
import { f16Bits, widenF16 } from './f16';

export interface NamedTensor {
  name: string;
  /** Row-major; a scalar has shape []. */
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsContents {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

/** A checkpoint that cannot be written or read; the message names the file and what to do. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const HEADER_LENGTH_BYTES = 8;
/** The reference implementation refuses headers over 100 MB (MAX_HEADER_SIZE); so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const HEADER_ALIGNMENT = 8;
const METADATA_KEY = '__metadata__';
const F32_BYTES = 4;
/** The dtypes read (F16 widened to float32 exactly) and written. */
export type Dtype = 'F32' | 'F16';
const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, F16: 2 };
/** Float32Array views and typed copies below assume the host is little-endian, as the file is. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const DAMAGED = 'the file is damaged, re-train or pick another checkpoint';

// ---------------------------------------------------------------------------------------------
// Writing

/** Serializes tensors (sorted by name) and string metadata into one safetensors file image. */
export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string>, opts: { dtype?: Dtype } = {}): Buffer {
  const dtype = opts.dtype ?? 'F32';
  const bytesPer = DTYPE_BYTES[dtype];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new CheckpointError(
        `checkpoint metadata ${JSON.stringify(key)} is a ${typeof value}; safetensors metadata values must be strings, so encode it first (e.g. JSON.stringify)`,
      );
    }
  }

  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;

  let offset = 0;
  for (const tensor of sorted) {
    checkTensorForWrite(tensor, header);
    const byteLength = tensor.data.length * bytesPer;
    header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  const dataBytes = offset;

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerBytes = Math.ceil(json.length / HEADER_ALIGNMENT) * HEADER_ALIGNMENT;
  const out = Buffer.alloc(HEADER_LENGTH_BYTES + headerBytes + dataBytes);
  out.writeBigUInt64LE(BigInt(headerBytes), 0);
  json.copy(out, HEADER_LENGTH_BYTES);
  out.fill(0x20, HEADER_LENGTH_BYTES + json.length, HEADER_LENGTH_BYTES + headerBytes); // spaces

  let position = HEADER_LENGTH_BYTES + headerBytes;
  for (const tensor of sorted) {
    if (dtype === 'F16') for (let i = 0; i < tensor.data.length; i++) out.writeUInt16LE(f16Bits(tensor.data[i]), position + 2 * i);
    else writeFloat32LE(tensor.data, out, position);
    position += tensor.data.length * bytesPer;
  }
  return out;
}

function checkTensorForWrite(tensor: NamedTensor, header: Record<string, unknown>): void {
  const name = JSON.stringify(tensor.name);
  if (tensor.name === '' || tensor.name === METADATA_KEY) {
    throw new CheckpointError(`cannot save a tensor named ${name}; the name is reserved or empty`);
  }
  if (tensor.name in header) throw new CheckpointError(`cannot save two tensors named ${name}`);
  if (!tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new CheckpointError(`cannot save tensor ${name}: shape [${tensor.shape}] must be non-negative integers`);
  }
  const count = tensor.shape.reduce((p, d) => p * d, 1);
  if (count !== tensor.data.length) {
    throw new CheckpointError(
      `cannot save tensor ${name}: shape [${tensor.shape}] holds ${count} values but the data has ${tensor.data.length}`,
    );
  }
}

function writeFloat32LE(data: Float32Array, out: Buffer, position: number): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position);
    return;
  }
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], position + i * F32_BYTES);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Where one tensor lies in the data section, after validation. */
interface TensorLayout {
  name: string;
  shape: number[];
  dtype: Dtype;
  begin: number;
  end: number;
}

interface ParsedHeader {
  metadata: Record<string, string>;
  layouts: TensorLayout[];
  /** Bytes the header says the data section holds (the largest end offset). */
  dataBytes: number;
}

/**
 * Decodes a whole file image. `source` (usually the path) names the file in error messages.
 * The returned tensors own their memory; they do not alias `bytes`.
 */
export function decodeSafetensors(bytes: Buffer, source: string): SafetensorsContents {
  const headerBytes = readHeaderLength(bytes.subarray(0, HEADER_LENGTH_BYTES), bytes.length, source);
  const headerStart = HEADER_LENGTH_BYTES;
  const dataStart = headerStart + headerBytes;
  const parsed = parseHeader(bytes.subarray(headerStart, dataStart), bytes.length - dataStart, source);
  return { metadata: parsed.metadata, tensors: extractTensors(parsed, bytes.subarray(dataStart)) };
}

/** Reads a safetensors file, validating the header against the file size before reading the data. */
export function readSafetensorsFile(path: string, wanted: (name: string) => boolean = () => true): SafetensorsContents {
  const file = openSafetensorsFile(path);
  try {
    const tensors = new Map<string, NamedTensor>();
    // Sorted by name, as written, so iteration order does not depend on the file's layout.
    for (const name of [...file.names()].sort()) {
      if (wanted(name)) tensors.set(name, file.read(name));
    }
    return { metadata: file.metadata, tensors };
  } finally {
    file.close();
  }
}

/**
 * An open safetensors file whose header is validated (every tensor's offsets against the file
 * size); tensors are read one at a time, so a reader that needs a few (sampling needs the
 * weights, not the optimizer moments: two thirds of a training checkpoint) reads only those.
 */
export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  names(): IterableIterator<string>;
  /** The tensor's shape (its product checked against its offsets). */
  shapeOf(name: string): number[];
  /**
   * The tensor's values: in a Float32Array of its own, or in the first values of `into` (which
   * must be long enough), so a caller that copies each tensor elsewhere can reuse one buffer.
   */
  read(name: string, into?: Float32Array): NamedTensor;
  /** Fills `into` with the tensor's values first, first+1, … (row-major), which must lie inside it. */
  readValues(name: string, first: number, into: Float32Array): void;
  close(): void;
}

export function openSafetensorsFile(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw new CheckpointError(`cannot open checkpoint ${path}: ${describeFsError(err)}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new CheckpointError(`${path} is not a file; give the path of a .safetensors checkpoint`);
    const fileBytes = stat.size;

    const lengthField = readExactly(fd, 0, Math.min(HEADER_LENGTH_BYTES, fileBytes), path);
    const headerBytes = readHeaderLength(lengthField, fileBytes, path);
    const dataStart = HEADER_LENGTH_BYTES + headerBytes;
    const parsed = parseHeader(readExactly(fd, HEADER_LENGTH_BYTES, headerBytes, path), fileBytes - dataStart, path);
    const layouts = new Map(parsed.layouts.map((layout) => [layout.name, layout]));
    const layoutOf = (name: string): TensorLayout => {
      const layout = layouts.get(name);
      if (!layout) throw new CheckpointError(`${path} has no tensor ${JSON.stringify(name)}`);
      return layout;
    };
    let open = true;
    return {
      path,
      metadata: parsed.metadata,
      names: () => layouts.keys(),
      shapeOf: (name: string) => layoutOf(name).shape,
      read(name: string, into?: Float32Array): NamedTensor {
        const layout = layoutOf(name);
        if (!open) throw new Error(`${path}: read after close`);
        const count = (layout.end - layout.begin) / DTYPE_BYTES[layout.dtype];
        if (into && into.length < count) throw new Error(`${path}: ${name} has ${count} values, the buffer holds ${into.length}`);
        const data = into ? into.subarray(0, count) : new Float32Array(count);
        // Only tensors whose offsets were checked against the file size are read.
        readValuesAt(fd, dataStart + layout.begin, layout.dtype, data, path);
        return { name, shape: layout.shape, data };
      },
      readValues(name: string, first: number, into: Float32Array): void {
        const layout = layoutOf(name);
        if (!open) throw new Error(`${path}: read after close`);
        const bytesPer = DTYPE_BYTES[layout.dtype];
        const count = (layout.end - layout.begin) / bytesPer;
        if (!(Number.isInteger(first) && first >= 0 && first + into.length <= count)) {
          throw new Error(`${path}: values [${first}, ${first + into.length}) outside ${name}'s ${count}`);
        }
        readValuesAt(fd, dataStart + layout.begin + first * bytesPer, layout.dtype, into, path);
      },
      close(): void {
        if (open) fs.closeSync(fd);
        open = false;
      },
    };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Fills `values` from `position`: F32 straight into them, F16 through a buffer, widened exactly. */
function readValuesAt(fd: number, position: number, dtype: Dtype, values: Float32Array, path: string): void {
  if (dtype === 'F32') return readFloat32(fd, position, values, path);
  const bytes = readExactly(fd, position, values.length * 2, path);
  widenF16(bytes, values);
}

/** Fills `values` with little-endian float32 read at `position`, with no copy in between. */
function readFloat32(fd: number, position: number, values: Float32Array, path: string): void {
  const length = values.byteLength;
  const bytes = new Uint8Array(values.buffer, values.byteOffset, length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, bytes, done, length - done, position + done);
    if (n === 0) throw new CheckpointError(`${path} shrank while being read; is something else writing it? try again`);
    done += n;
  }
  if (!HOST_IS_LITTLE_ENDIAN) {
    const view = new DataView(values.buffer, values.byteOffset, length);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * F32_BYTES, true);
  }
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file; check the path (checkpoints are written by `rnn train`)';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied; check the file permissions';
  if (code === 'EISDIR') return 'it is a directory; give the path of a .safetensors checkpoint';
  return (err as Error).message;
}

function readExactly(fd: number, position: number, length: number, path: string): Buffer {
  const out = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw new CheckpointError(`${path} shrank while being read; is something else writing it? try again`);
    done += n;
  }
  return out;
}

/** Validates the 8-byte length field against the file size; returns N. */
function readHeaderLength(field: Buffer, fileBytes: number, source: string): number {
  if (fileBytes < HEADER_LENGTH_BYTES) {
    throw new CheckpointError(
      `${source} is ${fileBytes} bytes, too short to be a safetensors file (it needs at least ${HEADER_LENGTH_BYTES}); ${DAMAGED}`,
    );
  }
  const length = field.readBigUInt64LE(0);
  const available = BigInt(fileBytes - HEADER_LENGTH_BYTES);
  if (length > available) {
    throw new CheckpointError(
      `${source} is truncated or not a safetensors file: its header length field says ${length} bytes, the file has only ${available} after it; ${DAMAGED}`,
    );
  }
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(
      `${source} has a ${length}-byte header, over the ${MAX_HEADER_BYTES}-byte limit of the safetensors format; ${DAMAGED}`,
    );
  }
  return Number(length);
}

/** Validates the JSON header; `dataBytesInFile` is what follows the header in the file. */
function parseHeader(headerBytes: Buffer, dataBytesInFile: number, source: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new CheckpointError(`${source} has a header that is not valid UTF-8; ${DAMAGED}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    // V8 quotes the offending text, which may span lines; keep the message on one.
    const reason = (err as Error).message.replace(/\s+/g, ' ');
    throw new CheckpointError(`${source} has a header that is not valid JSON (${reason}); ${DAMAGED}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError(`${source} has a header that is not a JSON object; ${DAMAGED}`);
  }
  // JSON.parse keeps the last of two equal keys: a header naming a tensor twice would load
  // whichever came last, silently. The reference reader refuses it; so do we.
  const duplicate = findDuplicateKey(text);
  if (duplicate) {
    const what = duplicate.depth === 1 ? (duplicate.key === METADATA_KEY ? 'two __metadata__ objects' : `two tensors named ${JSON.stringify(duplicate.key)}`)
      : `a key ${JSON.stringify(duplicate.key)} twice in one object (in __metadata__ or a tensor entry)`;
    throw new CheckpointError(`${source} has ${what} in its header; ${DAMAGED}`);
  }

  let metadata: Record<string, string> = {};
  const layouts: TensorLayout[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) metadata = parseMetadata(entry, source);
    else layouts.push(parseTensorEntry(name, entry, source));
  }

  // Tensors must tile the data section exactly: no overlap (two tensors sharing bytes), no gap,
  // nothing after the last one. The reference reader enforces the same.
  layouts.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < layouts.length; i++) {
    const layout = layouts[i];
    if (layout.begin < covered) {
      throw new CheckpointError(
        `${source} has overlapping tensors: ${JSON.stringify(layout.name)} starts at byte ${layout.begin}, inside ${JSON.stringify(layouts[i - 1].name)} (which ends at ${covered}); ${DAMAGED}`,
      );
    }
    if (layout.begin > covered) {
      throw new CheckpointError(
        `${source} has a gap in its tensor data: bytes ${covered}..${layout.begin} belong to no tensor (before ${JSON.stringify(layout.name)}); ${DAMAGED}`,
      );
    }
    covered = layout.end;
  }
  if (covered > dataBytesInFile) {
    throw new CheckpointError(
      `${source} is truncated: header says ${covered} bytes of tensor data, the file has ${dataBytesInFile}; ${DAMAGED}`,
    );
  }
  if (covered < dataBytesInFile) {
    throw new CheckpointError(
      `${source} has ${dataBytesInFile - covered} bytes after its last tensor (header says ${covered} bytes of tensor data, the file has ${dataBytesInFile}); ${DAMAGED}`,
    );
  }
  return { metadata, layouts, dataBytes: covered };
}

/**
 * The first key that appears twice in one object of a valid JSON text, with the object's depth
 * (1: the top level). A scan, not a parse: strings are skipped whole, and a string followed by
 * ':' is a key of the innermost open object.
 */
export function findDuplicateKey(text: string): { key: string; depth: number } | null {
  const open: Array<Set<string> | null> = []; // a Set per open object, null per open array
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const literal = text.slice(i, j + 1);
      i = j + 1;
      let k = i;
      while (k < text.length && (text[k] === ' ' || text[k] === '\t' || text[k] === '\n' || text[k] === '\r')) k++;
      const keys = open[open.length - 1];
      if (text[k] === ':' && keys) {
        const key = JSON.parse(literal) as string;
        if (keys.has(key)) return { key, depth: open.length };
        keys.add(key);
      }
      continue;
    }
    if (c === 0x7b /* { */) open.push(new Set());
    else if (c === 0x5b /* [ */) open.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) open.pop();
    i++;
  }
  return null;
}

function parseMetadata(entry: unknown, source: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new CheckpointError(`${source} has __metadata__ that is not a JSON object of strings; ${DAMAGED}`);
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      throw new CheckpointError(
        `${source} has metadata ${JSON.stringify(key)} that is a ${value === null ? 'null' : typeof value}, but safetensors metadata values must be strings; ${DAMAGED}`,
      );
    }
    metadata[key] = value;
  }
  return metadata;
}

function parseTensorEntry(name: string, entry: unknown, source: string): TensorLayout {
  const what = `${source}: tensor ${JSON.stringify(name)}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new CheckpointError(`${what} is not described by a JSON object; ${DAMAGED}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (dtype !== 'F32' && dtype !== 'F16') {
    const described = typeof dtype === 'string' ? `dtype ${dtype}` : 'no string dtype';
    throw new CheckpointError(
      `${what} has ${described}; rnn reads only F32 (float32) and F16 checkpoints, so convert it to float32 and save again (in PyTorch: {k: v.float() for k, v in state_dict.items()})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new CheckpointError(`${what} has shape ${JSON.stringify(shape)}; a shape is a list of non-negative integers; ${DAMAGED}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new CheckpointError(
      `${what} has data_offsets ${JSON.stringify(offsets)}; they must be two integers [begin, end] with 0 <= begin <= end; ${DAMAGED}`,
    );
  }
  const [begin, end] = offsets as number[];
  // Multiply in BigInt: a hostile shape like [1e9, 1e9, 1e9] must not round into a match.
  const expected = (shape as number[]).reduce((p, d) => p * BigInt(d), BigInt(DTYPE_BYTES[dtype]));
  if (expected !== BigInt(end - begin)) {
    throw new CheckpointError(
      `${what} has shape [${shape}], which needs ${expected} bytes of ${dtype}, but its data_offsets [${begin}, ${end}] span ${end - begin}; ${DAMAGED}`,
    );
  }
  return { name, shape: shape as number[], dtype, begin, end };
}

/** Copies each tensor out of the validated data section into its own aligned Float32Array. */
function extractTensors(parsed: ParsedHeader, data: Buffer): Map<string, NamedTensor> {
  const tensors = new Map<string, NamedTensor>();
  // Sorted by name, as written, so iteration order does not depend on the file's layout.
  const byName = [...parsed.layouts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const layout of byName) {
    const count = (layout.end - layout.begin) / DTYPE_BYTES[layout.dtype];
    const values = new Float32Array(count);
    // The data section need not be 4-byte aligned in memory (other writers' headers, Buffer
    // pooling), so copy bytes rather than viewing them.
    if (layout.dtype === 'F16') {
      widenF16(data.subarray(layout.begin, layout.end), values);
    } else if (HOST_IS_LITTLE_ENDIAN) {
      new Uint8Array(values.buffer).set(data.subarray(layout.begin, layout.end));
    } else {
      for (let i = 0; i < count; i++) values[i] = data.readFloatLE(layout.begin + i * F32_BYTES);
    }
    tensors.set(layout.name, { name: layout.name, shape: layout.shape, data: values });
  }
  return tensors;
}
