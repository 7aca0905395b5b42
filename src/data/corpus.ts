// Reads a training corpus (a file or stdin) and splits it into training and validation ids.

import * as fs from 'fs';
import { UsageError } from '../errors';
import { Vocab } from './vocab';

export interface Corpus {
  /** Where the text came from, for messages: a path or 'stdin'. */
  source: string;
  vocab: Vocab;
  train: Int32Array;
  val: Int32Array;
}

/** Reads a UTF-8 text file, turning file-system failures into one-line, actionable errors. */
export function readTextFile(path: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file; give the path of a text file`);
    if (code === 'EACCES') throw new UsageError(`${path}: permission denied`);
    throw new UsageError(`${path}: cannot read (${code ?? String(err)})`);
  }
  if (stat.isDirectory()) throw new UsageError(`${path} is a directory; give the path of a text file inside it`);
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Reads all of stdin as UTF-8; an interactive terminal is refused rather than waited on. */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new UsageError("'-' reads from standard input, but it is a terminal; pipe text in, e.g. `cat corpus.txt | rnn train -`");
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Builds the vocabulary over the whole text (so validation has no unknown characters) and
 * holds out the last valFraction of the code points for validation.
 */
export function splitCorpus(text: string, source: string, valFraction: number, minTrainChars: number): Corpus {
  const points = [...text];
  if (points.length === 0) throw new UsageError(`${source} is empty; give a text file with some text in it`);
  const vocab = Vocab.fromText(text);
  const ids = Int32Array.from(points, (ch) => vocab.id(ch));
  const valCount = Math.floor(points.length * valFraction);
  const trainCount = points.length - valCount;
  if (trainCount < minTrainChars) {
    const why = valCount > 0 ? ` (${trainCount} after holding out ${valCount} for validation)` : '';
    throw new UsageError(
      `${source} has ${points.length} characters${why}; training needs at least ${minTrainChars} ` +
      '(seq-len + 1): use a longer text or a smaller --seq-len');
  }
  return { source, vocab, train: ids.subarray(0, trainCount), val: ids.subarray(trainCount) };
}
