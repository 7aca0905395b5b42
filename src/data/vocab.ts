// The vocabulary: the corpus's distinct Unicode code points, sorted, each mapped to an id (a
// model fine-tuned with --init-from keeps its checkpoint's order and appends what the text adds).

export class Vocab {
  private readonly ids = new Map<string, number>();

  /** chars: distinct code points, in id order. */
  constructor(readonly chars: readonly string[]) {
    chars.forEach((ch, i) => {
      if ([...ch].length !== 1) throw new Error(`vocabulary entry ${JSON.stringify(ch)} is not one code point`);
      if (this.ids.has(ch)) throw new Error(`vocabulary has ${JSON.stringify(ch)} twice`);
      this.ids.set(ch, i);
    });
  }

  /** Builds the vocabulary of a text. `for…of` walks code points, so emoji stay whole. */
  static fromText(text: string): Vocab {
    const seen = new Set<string>();
    for (const ch of text) seen.add(ch);
    return new Vocab([...seen].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  get size(): number {
    return this.chars.length;
  }

  has(ch: string): boolean {
    return this.ids.has(ch);
  }

  id(ch: string): number {
    const id = this.ids.get(ch);
    if (id === undefined) throw new Error(`character ${JSON.stringify(ch)} is not in the vocabulary`);
    return id;
  }

  /** Code points of text that the vocabulary lacks, each once, in order of appearance. */
  unknown(text: string): string[] {
    const missing = new Set<string>();
    for (const ch of text) if (!this.ids.has(ch)) missing.add(ch);
    return [...missing];
  }

  encode(text: string): Int32Array {
    const out: number[] = [];
    for (const ch of text) out.push(this.id(ch));
    return Int32Array.from(out);
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]];
    return s;
  }

  /** For checkpoint metadata: a JSON array of the code points as numbers (robust to any char). */
  serialize(): string {
    return JSON.stringify(this.chars.map((ch) => ch.codePointAt(0)));
  }

  static deserialize(json: string): Vocab {
    const points: unknown = JSON.parse(json);
    if (!Array.isArray(points) || points.some((p) => !Number.isInteger(p) || p < 0 || p > 0x10ffff)) {
      throw new Error('vocabulary is not a list of code points');
    }
    return new Vocab(points.map((p: number) => String.fromCodePoint(p)));
  }
}

/** The known characters of a text; see encodeKnown. */
export interface KnownText {
  /** The ids of the known characters, in order, unknown ones dropped. */
  ids: Int32Array;
  /** counted[j] = 1 where ids[j] and ids[j + 1] were adjacent in the text (nothing dropped between). */
  counted: Uint8Array;
  /** Code points in the text. */
  characters: number;
  /** Each unknown character and how often it occurs, in order of first appearance. */
  unknown: Map<string, number>;
}

/** Encodes the characters of text that vocab knows, for `rnn eval`: unknown ones are dropped and counted. */
export function encodeKnown(text: string, vocab: Vocab): KnownText {
  const ids: number[] = [];
  const adjacentToNext: number[] = [];
  const unknown = new Map<string, number>();
  let characters = 0;
  let previousKnown = false;
  for (const ch of text) {
    characters++;
    if (!vocab.has(ch)) {
      unknown.set(ch, (unknown.get(ch) ?? 0) + 1);
      previousKnown = false;
      continue;
    }
    if (previousKnown) adjacentToNext[adjacentToNext.length - 1] = 1;
    ids.push(vocab.id(ch));
    adjacentToNext.push(0);
    previousKnown = true;
  }
  return { ids: Int32Array.from(ids), counted: Uint8Array.from(adjacentToNext), characters, unknown };
}
