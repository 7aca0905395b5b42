// Which characters of a text are held out for validation: the tail, or blocks from all of it.
//
// 'tail' holds out the last floor(N·f) code points, as nanoGPT and char-rnn do. On a user's own
// corpus the tail is often another book, file, language or script, so validation measures a text
// the model never saw the like of. 'blocks' cuts the text into blocks of a few thousand code
// points and holds out an evenly spread f of them (every 10th at f = 0.1), so validation samples
// the whole text. Both are pure functions of (N, f): train, eval, average and resume all cut the
// same ranges from the same text.

import { TokenIds } from './batcher';

export type ValSplit = 'tail' | 'blocks';
export const VAL_SPLITS: readonly ValSplit[] = ['tail', 'blocks'];

/**
 * The longest block: at T = 64 about 1.5% of validation's predictions then straddle a seam
 * between two held-out blocks (pairs that were not adjacent in the text), and a text of
 * 10 MB still gives thousands of blocks.
 */
export const MAX_BLOCK_CHARS = 4096;
/** Blocks shrink on short texts so that one of 100 K characters still has 100 blocks (10 held out at f = 0.1). */
export const MIN_BLOCKS = 100;

/** [start, end) in code points. */
export type Range = readonly [number, number];

/** The block length the split uses on a text of `characters` code points. */
export function blockChars(characters: number): number {
  return Math.max(1, Math.min(MAX_BLOCK_CHARS, Math.floor(characters / MIN_BLOCKS)));
}

/**
 * The validation ranges of a text of `characters` code points, in order and disjoint; the rest
 * is the training part. 'blocks' holds out block i when floor((i+1)·f) > floor(i·f): the
 * Bresenham spread of floor(blocks·f) blocks, the last of every 1/f when 1/f is whole. The last
 * block may be short.
 */
export function validationRanges(characters: number, valFraction: number, split: ValSplit): Range[] {
  if (split === 'tail') {
    const valCount = Math.floor(characters * valFraction);
    return valCount > 0 ? [[characters - valCount, characters]] : [];
  }
  const size = blockChars(characters);
  const blocks = Math.ceil(characters / size);
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < blocks; i++) {
    if (Math.floor((i + 1) * valFraction) <= Math.floor(i * valFraction)) continue;
    const start = i * size, end = Math.min(characters, start + size);
    const last = ranges[ranges.length - 1];
    if (last && last[1] === start) last[1] = end; // adjacent held-out blocks (f > 0.5) are one range
    else ranges.push([start, end]);
  }
  return ranges;
}

/** The complement of `ranges` in [0, characters): the training part's ranges. */
export function trainingRanges(characters: number, ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) out.push([at, start]);
    at = end;
  }
  if (at < characters) out.push([at, characters]);
  return out;
}

function count(ranges: readonly Range[]): number {
  return ranges.reduce((n, [start, end]) => n + end - start, 0);
}

/** The ids of `ranges`, joined: a view of `ids` when there is one range, else a copy. */
function gather(ids: TokenIds, ranges: readonly Range[]): TokenIds {
  if (ranges.length === 1) return ids.subarray(ranges[0][0], ranges[0][1]);
  const out = ids instanceof Uint16Array ? new Uint16Array(count(ranges)) : new Int32Array(count(ranges));
  let at = 0;
  for (const [start, end] of ranges) {
    out.set(ids.subarray(start, end), at);
    at += end - start;
  }
  return out;
}

/**
 * A text's ids cut into training and validation parts. 'tail' gives views of `ids` (no copy,
 * as before the split had a choice); 'blocks' copies each part, joined in text order.
 */
export function splitIds(ids: TokenIds, valFraction: number, split: ValSplit): { train: TokenIds; val: TokenIds } {
  const val = validationRanges(ids.length, valFraction, split);
  if (split === 'tail') {
    const trainCount = val.length > 0 ? val[0][0] : ids.length;
    return { train: ids.subarray(0, trainCount), val: ids.subarray(trainCount) };
  }
  const train = trainingRanges(ids.length, val);
  return { train: train.length > 0 ? gather(ids, train) : ids.subarray(0, 0), val: val.length > 0 ? gather(ids, val) : ids.subarray(0, 0) };
}

/** The same cut of a string, by code points (for `rnn eval --split`). */
export function splitText(text: string, part: 'train' | 'val', valFraction: number, split: ValSplit): string {
  const points = [...text];
  const val = validationRanges(points.length, valFraction, split);
  const ranges = part === 'val' ? val : trainingRanges(points.length, val);
  return ranges.map(([start, end]) => points.slice(start, end).join('')).join('');
}

export interface UnseenShare {
  /** Validation characters whose character never occurs in the training part. */
  unseen: number;
  /** Of the validation part's characters. */
  valChars: number;
  /** unseen / valChars (0 for an empty validation part). */
  share: number;
  /** The ids that occur in validation only, in id order. */
  ids: number[];
}

/** How much of the validation part is characters the training part lacks (what the model cannot learn to predict). */
export function unseenShare(train: TokenIds, val: TokenIds, vocabSize: number): UnseenShare {
  const inTrain = new Uint8Array(vocabSize);
  for (let i = 0; i < train.length; i++) inTrain[train[i]] = 1;
  const onlyInVal = new Map<number, number>();
  let unseen = 0;
  for (let i = 0; i < val.length; i++) {
    const id = val[i];
    if (inTrain[id] === 0) {
      unseen++;
      onlyInVal.set(id, (onlyInVal.get(id) ?? 0) + 1);
    }
  }
  return { unseen, valChars: val.length, share: val.length > 0 ? unseen / val.length : 0, ids: [...onlyInVal.keys()].sort((a, b) => a - b) };
}

/** A share as a percentage a reader can use: one decimal, or two significant digits below 1%. */
export function formatShare(share: number): string {
  const percent = share * 100;
  return percent >= 1 || percent === 0 ? `${percent.toFixed(1)}%` : `${Number(percent.toPrecision(2))}%`;
}

/**
 * The warning for validation characters the training part lacks (null when there are none):
 * the share, a few of them, and what to do. `chars` maps an id to its character.
 */
export function unseenWarning(u: UnseenShare, chars: readonly string[], split: ValSplit): string | null {
  if (u.unseen === 0) return null;
  const shown = u.ids.slice(0, 8).map((id) => JSON.stringify(chars[id])).join(' ');
  const which = `${u.ids.length} distinct: ${shown}${u.ids.length > 8 ? ' …' : ''}`;
  const what = `${formatShare(u.share)} of the validation characters (${u.unseen.toLocaleString('en-US')} of ` +
    `${u.valChars.toLocaleString('en-US')}; ${which}) never occur in the training part, so validation loss will read high`;
  return split === 'tail'
    ? `${what}: the held-out tail is unlike the rest of the text; --val-split blocks holds out blocks from all of it`
    : `${what}; they are too rare to be learned from this text`;
}
