// What counts as text: the byte-level policy every corpus, evaluation text and --prime passes.
//
// Policy (docs/options.md, "Text input"): UTF-8, with or without a byte-order mark (stripped); UTF-16 LE/BE
// with its BOM (decoded); anything else is refused before any training, naming where it went
// wrong: a known binary signature (ELF executables, images, archives), a NUL byte (text has
// none; git and grep call such files binary), or bytes that are not UTF-8 (the offset of the
// first bad byte). Invalid UTF-8 is refused rather than replaced with U+FFFD: a model trained
// on replacement characters writes them back, and a silent count is easy to miss.
// CRLF, combining marks and astral-plane characters are kept as they are: a code point is a
// character (the vocabulary's unit), and the model writes what it read.

import { UsageError } from '../errors';

/** The UTF-8 byte-order mark, stripped: it marks the encoding, it is not a character. */
const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** File signatures that are certainly not text, and what to call them. */
const BINARY_SIGNATURES: Array<[number[], string]> = [
  [[0x7f, 0x45, 0x4c, 0x46], 'an ELF executable or library'],
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0xff, 0xd8, 0xff], 'a JPEG image'],
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image'],
  [[0x1f, 0x8b], 'gzip-compressed data (decompress it first: gunzip)'],
  [[0x50, 0x4b, 0x03, 0x04], 'a zip archive (unzip it first)'],
  [[0x42, 0x5a, 0x68], 'bzip2-compressed data (decompress it first: bunzip2)'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz-compressed data (decompress it first: unxz)'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'zstd-compressed data (decompress it first: unzstd)'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document (extract its text first, e.g. pdftotext)'],
  [[0x00, 0x61, 0x73, 0x6d], 'a WebAssembly module'],
  [[0xcf, 0xfa, 0xed, 0xfe], 'a Mach-O executable'],
];

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** What a file's first bytes say it is, when that is not text; null for anything else. */
export function binarySignature(head: Uint8Array): string | null {
  for (const [magic, what] of BINARY_SIGNATURES) if (startsWith(head, magic)) return what;
  // An 8-byte safetensors length followed by '{': a checkpoint given where text was wanted.
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return 'a safetensors checkpoint (rnn reads it with --checkpoint)';
  return null;
}

/** How the bytes are encoded, from the byte-order mark: which decoder, and how many bytes it takes. */
export type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be';

export function detectEncoding(head: Uint8Array): { encoding: Encoding; bomBytes: number } {
  if (startsWith(head, UTF8_BOM)) return { encoding: 'utf-8', bomBytes: 3 };
  if (startsWith(head, [0xff, 0xfe])) return { encoding: 'utf-16le', bomBytes: 2 };
  if (startsWith(head, [0xfe, 0xff])) return { encoding: 'utf-16be', bomBytes: 2 };
  return { encoding: 'utf-8', bomBytes: 0 };
}

/** A line number (1-based) for messages: counts '\n' before `offset` in the bytes seen so far. */
function describeAt(offset: number, line: number): string {
  return `byte offset ${offset} (line ${line})`;
}

/**
 * Walks UTF-8 bytes, chunk by chunk, calling `onPoint` for every code point. Refuses invalid
 * UTF-8 (overlong forms, surrogates, code points above U+10FFFF, stray continuation bytes,
 * a sequence cut off at the end) and NUL, naming the byte offset in the whole input.
 */
export class Utf8Scanner {
  /** Bytes consumed before the current chunk (for offsets in messages). */
  private offset = 0;
  private line = 1;
  /** An incomplete sequence at the end of the previous chunk. */
  private carry: Uint8Array = new Uint8Array(0);

  constructor(private readonly source: string, private readonly onPoint: (codePoint: number) => void) {}

  push(chunk: Uint8Array): void {
    let bytes = chunk;
    let base = this.offset;
    if (this.carry.length > 0) {
      const joined = new Uint8Array(this.carry.length + chunk.length);
      joined.set(this.carry);
      joined.set(chunk, this.carry.length);
      base -= this.carry.length;
      bytes = joined;
      this.carry = new Uint8Array(0);
    }
    const n = bytes.length;
    const emit = this.onPoint;
    let i = 0;
    while (i < n) {
      const b0 = bytes[i];
      if (b0 < 0x80) {
        if (b0 === 0) this.refuseNul(base + i);
        if (b0 === 0x0a) this.line++;
        emit(b0);
        i++;
        continue;
      }
      // need: continuation bytes; min: the smallest code point that needs them (overlong check).
      let need = 0, cp = 0, min = 0;
      if (b0 >= 0xc2 && b0 <= 0xdf) { need = 1; cp = b0 & 0x1f; min = 0x80; }
      else if (b0 >= 0xe0 && b0 <= 0xef) { need = 2; cp = b0 & 0x0f; min = 0x800; }
      else if (b0 >= 0xf0 && b0 <= 0xf4) { need = 3; cp = b0 & 0x07; min = 0x10000; }
      else this.refuse(base + i, b0);
      if (i + need >= n) {
        // Not all of the sequence is here yet: keep it for the next chunk.
        this.carry = bytes.slice(i);
        break;
      }
      for (let k = 1; k <= need; k++) {
        const b = bytes[i + k];
        if ((b & 0xc0) !== 0x80) this.refuse(base + i, b0, k);
        cp = (cp << 6) | (b & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.refuse(base + i, b0);
      emit(cp);
      i += need + 1;
    }
    this.offset = base + n;
  }

  /** Call once at the end: a sequence still incomplete means the input was cut mid-character. */
  end(): void {
    if (this.carry.length > 0) {
      throw new UsageError(
        `${this.source} ends in the middle of a UTF-8 character (${describeAt(this.offset - this.carry.length, this.line)}): ` +
        'the text was cut off or is not UTF-8; convert it to UTF-8 (e.g. iconv -t utf-8) or fix its end');
    }
  }

  private refuse(at: number, lead: number, continuation = 0): never {
    const what = continuation > 0 ? `byte 0x${lead.toString(16)} is not followed by a continuation byte` : `byte 0x${lead.toString(16)} cannot be UTF-8 here`;
    throw new UsageError(
      `${this.source} is not valid UTF-8 at ${describeAt(at, this.line)}: ${what}; ` +
      'convert it to UTF-8 first, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`');
  }

  private refuseNul(at: number): never {
    throw new UsageError(`${this.source} has a NUL byte at ${describeAt(at, this.line)}: it looks like binary data, not text; give a text file`);
  }
}

/** Walks a decoded UTF-16 string's code points with the same NUL rule; lone surrogates are refused. */
export function scanString(text: string, source: string, onPoint: (codePoint: number) => void): void {
  let line = 1;
  let index = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0) throw new UsageError(`${source} has a NUL character at character ${index} (line ${line}): it looks like binary data, not text; give a text file`);
    if (cp >= 0xd800 && cp <= 0xdfff) throw new UsageError(`${source} has a lone UTF-16 surrogate at character ${index} (line ${line}); it is not valid text`);
    if (cp === 0x0a) line++;
    onPoint(cp);
    index++;
  }
}

/**
 * Decodes a whole byte buffer under the text policy into a string (for texts read whole: the
 * `rnn eval` text, --prime). Training corpora go through corpus.ts, which never builds one.
 */
export function decodeText(bytes: Uint8Array, source: string): string {
  const what = binarySignature(bytes.subarray(0, 16));
  if (what) throw new UsageError(`${source} is ${what}, not text; give a UTF-8 text file`);
  const { encoding, bomBytes } = detectEncoding(bytes);
  const body = bytes.subarray(bomBytes);
  if (encoding !== 'utf-8') {
    const text = decodeUtf16(body, encoding, source);
    scanString(text, source, () => undefined);
    return text;
  }
  const scanner = new Utf8Scanner(source, () => undefined);
  scanner.push(body);
  scanner.end();
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

export function decodeUtf16(body: Uint8Array, encoding: 'utf-16le' | 'utf-16be', source: string): string {
  if (body.length % 2 !== 0) throw new UsageError(`${source} is marked UTF-16 but has an odd number of bytes; it is damaged or not UTF-16`);
  try {
    return new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    throw new UsageError(`${source} is marked ${encoding.toUpperCase()} by its byte-order mark but is not valid ${encoding.toUpperCase()}; convert it to UTF-8`);
  }
}
