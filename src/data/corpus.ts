// Reads a training corpus (a file or stdin) into token ids, and splits them for validation.
//
// A 200 MB corpus must train in a few hundred MB, so the text never becomes a JavaScript string
// (V8 would hold it, then `[...text]` an array of 200 M one-character strings): the bytes are
// walked twice, once for the vocabulary, the SHA-256 and the character count, once writing ids
// into one typed array, 2 bytes per character while the vocabulary has ≤ 65,536 entries
// (Uint16Array), 4 beyond. A file is read twice in 1 MiB chunks, so its bytes are never all in
// memory; stdin cannot be read twice, so its bytes are held until the ids are written.

import * as fs from 'fs';
import { createHash } from 'crypto';
import { UsageError } from '../errors';
import { TokenIds } from './batcher';
import { ValSplit, splitIds } from './split';
import { Vocab } from './vocab';
import { Utf8Scanner, binarySignature, decodeText, decodeUtf16, detectEncoding, scanString } from './text';

export interface Corpus {
  /** Where the text came from, for messages: a path or 'stdin'. */
  source: string;
  vocab: Vocab;
  train: TokenIds;
  val: TokenIds;
}

/** A corpus as ids over its own vocabulary, with what identifies the text. */
export interface EncodedCorpus {
  source: string;
  vocab: Vocab;
  /** [N] one id per code point. */
  ids: TokenIds;
  /** SHA-256 (hex) of the text as UTF-8, without a byte-order mark. */
  sha256: string;
  /** Code points in the text (N). */
  characters: number;
}

/** Bytes that can be walked more than once: a file re-read from disk, or stdin held in memory. */
type ByteChunks = () => Iterable<Uint8Array>;

const READ_CHUNK_BYTES = 1 << 20;
/** Ids fit 16 bits while the vocabulary has at most this many characters. */
const UINT16_IDS = 65536;
const CODE_POINTS = 0x110000;

function fileChunks(path: string): ByteChunks {
  return function* chunks(): Iterable<Uint8Array> {
    const fd = fs.openSync(path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, buffer.length, null);
        if (n === 0) return;
        yield buffer.subarray(0, n);
      }
    } finally {
      fs.closeSync(fd);
    }
  };
}

/** Checks the path names a readable regular file (or a pipe); one-line errors otherwise. */
function statText(path: string): fs.Stats {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file; give the path of a text file`);
    if (code === 'EACCES') throw new UsageError(`${path}: permission denied`);
    if (code === 'ENOTDIR') throw new UsageError(`${path}: a part of the path is not a directory`);
    throw new UsageError(`${path}: cannot read (${code ?? String(err)})`);
  }
  if (stat.isDirectory()) throw new UsageError(`${path} is a directory; give the path of a text file inside it`);
  if (!stat.isFile() && !stat.isFIFO()) throw new UsageError(`${path} is not a regular file (a device or socket); give the path of a text file`);
  try {
    fs.accessSync(path, fs.constants.R_OK);
  } catch (err) {
    throw new UsageError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return stat;
}

/** Wraps a read failure that happens mid-way (EIO, EISDIR on odd mounts) as one line. */
function readFailure(path: string, err: unknown): never {
  if (err instanceof UsageError) throw err;
  throw new UsageError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
}

/** Reads a corpus file into ids (see the file comment for the memory this takes). */
export function readCorpusFile(path: string): EncodedCorpus {
  const stat = statText(path);
  try {
    // A pipe (`<(…)`) cannot be read twice: hold its bytes, as for stdin.
    if (stat.isFIFO()) return encodeCorpus(path, heldChunks(readAllSync(path)));
    return encodeCorpus(path, fileChunks(path));
  } catch (err) {
    readFailure(path, err);
  }
}

function readAllSync(path: string): Uint8Array[] {
  const held: Uint8Array[] = [];
  for (const chunk of fileChunks(path)()) held.push(Uint8Array.from(chunk));
  return held;
}

function heldChunks(held: Uint8Array[]): ByteChunks {
  return () => held;
}

function refuseTerminal(): void {
  if (process.stdin.isTTY) {
    throw new UsageError("'-' reads from standard input, but it is a terminal; pipe text in, e.g. `cat corpus.txt | rnn train -`");
  }
}

async function stdinChunks(): Promise<Uint8Array[]> {
  refuseTerminal();
  const held: Uint8Array[] = [];
  for await (const chunk of process.stdin) held.push(chunk as Buffer);
  return held;
}

/** Reads all of stdin into ids; an interactive terminal is refused rather than waited on. */
export async function readCorpusStdin(): Promise<EncodedCorpus> {
  return encodeCorpus('stdin', heldChunks(await stdinChunks()));
}

type Hash = ReturnType<typeof createHash>;
/** Visits every code point of the text in order; feeds the text's UTF-8 bytes to `hash` when given. */
type Walk = (onPoint: (codePoint: number) => void, hash?: Hash) => void;

/** Two passes over the bytes: vocabulary, hash and count; then the ids. */
export function encodeCorpus(source: string, chunks: ByteChunks): EncodedCorpus {
  const head = firstBytes(chunks, 16);
  const what = binarySignature(head);
  if (what) throw new UsageError(`${source} is ${what}, not text; give a UTF-8 text file`);
  const { encoding, bomBytes } = detectEncoding(head);
  if (encoding !== 'utf-8') {
    // UTF-16 is rare for corpora: decode it whole (a string, 2 bytes a unit) and walk that.
    const text = decodeUtf16(Buffer.concat([...chunks()]).subarray(bomBytes), encoding, source);
    return encodePoints(source, (onPoint, hash) => {
      hash?.update(text, 'utf8');
      scanString(text, source, onPoint);
    });
  }
  return encodePoints(source, (onPoint, hash) => {
    const scanner = new Utf8Scanner(source, onPoint);
    let skip = bomBytes;
    for (const chunk of chunks()) {
      const body = skip > 0 ? chunk.subarray(Math.min(skip, chunk.length)) : chunk;
      skip -= chunk.length - body.length;
      hash?.update(body);
      scanner.push(body);
    }
    scanner.end();
  });
}

function firstBytes(chunks: ByteChunks, count: number): Uint8Array {
  const head: number[] = [];
  for (const chunk of chunks()) {
    for (let i = 0; i < chunk.length && head.length < count; i++) head.push(chunk[i]);
    if (head.length >= count) break;
  }
  return Uint8Array.from(head);
}

function encodePoints(source: string, walk: Walk): EncodedCorpus {
  const hash = createHash('sha256');
  const seen = new Uint8Array(CODE_POINTS);
  const distinct: number[] = [];
  let characters = 0;
  walk((cp) => {
    if (seen[cp] === 0) {
      seen[cp] = 1;
      distinct.push(cp);
    }
    characters++;
  }, hash);
  if (characters === 0) throw new UsageError(`${source} is empty; give a text file with some text in it`);

  // Ids in code-point order, as Vocab.fromText assigns them.
  distinct.sort((a, b) => a - b);
  const idOf = new Int32Array(CODE_POINTS).fill(-1);
  distinct.forEach((cp, id) => { idOf[cp] = id; });
  const chars = distinct.map((cp) => String.fromCodePoint(cp));
  const ids: TokenIds = chars.length <= UINT16_IDS ? new Uint16Array(characters) : new Int32Array(characters);
  const changed = (): never => {
    throw new UsageError(`${source} changed while it was being read; train on a file nothing is writing`);
  };
  let at = 0;
  walk((cp) => {
    const id = idOf[cp];
    if (id < 0 || at >= characters) changed();
    ids[at++] = id;
  });
  if (at !== characters) changed();
  return { source, vocab: new Vocab(chars), ids, sha256: hash.digest('hex'), characters };
}

/** Reads a whole text file as a string under the text policy (for `rnn eval`). */
export function readTextFile(path: string): string {
  const stat = statText(path);
  try {
    const bytes = stat.isFIFO() ? Buffer.concat(readAllSync(path)) : fs.readFileSync(path);
    return decodeText(bytes, path);
  } catch (err) {
    readFailure(path, err);
  }
}

/** Reads all of stdin as text under the text policy; an interactive terminal is refused. */
export async function readStdin(): Promise<string> {
  return decodeText(Buffer.concat(await stdinChunks()), 'stdin');
}

/**
 * The corpus over a given model's vocabulary, for `rnn train --init-from`: base keeps its ids,
 * and characters the text has that base lacks join at its end, in code-point order, so every id
 * the model already knows keeps its rows. The ids are rewritten into a new array.
 */
export function reencodeCorpus(encoded: EncodedCorpus, base: Vocab): EncodedCorpus {
  const added = encoded.vocab.chars.filter((ch) => !base.has(ch));
  const vocab = new Vocab([...base.chars, ...added]);
  const newId = Int32Array.from(encoded.vocab.chars, (ch) => vocab.id(ch));
  const ids = vocab.size <= UINT16_IDS ? new Uint16Array(encoded.ids.length) : new Int32Array(encoded.ids.length);
  for (let i = 0; i < ids.length; i++) ids[i] = newId[encoded.ids[i]];
  return { ...encoded, vocab, ids };
}

/**
 * Holds out valFraction of the code points for validation: the last of them ('tail', the
 * default), or blocks spread over the whole text ('blocks'; src/data/split.ts). The vocabulary
 * covers the whole text, so validation has no unknown ids. With 'tail', train and val are views
 * of one array; with 'blocks', copies.
 */
export function splitCorpus(encoded: EncodedCorpus, valFraction: number, minTrainChars: number, split: ValSplit = 'tail'): Corpus {
  const { source, ids } = encoded;
  const { train, val } = splitIds(ids, valFraction, split);
  if (train.length < minTrainChars) {
    const why = val.length > 0 ? ` (${train.length} after holding out ${val.length} for validation)` : '';
    throw new UsageError(
      `${source} has ${ids.length} characters${why}; training needs at least ${minTrainChars} ` +
      '(seq-len + 1): use a longer text or a smaller --seq-len');
  }
  return { source, vocab: encoded.vocab, train, val };
}
