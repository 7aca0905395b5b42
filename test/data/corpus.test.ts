// reencodeCorpus: a corpus read over a model's vocabulary (rnn train --init-from).

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readCorpusFile, reencodeCorpus } from '../../src/data/corpus';
import { Vocab } from '../../src/data/vocab';

describe('reencodeCorpus', () => {
  const text = 'To be, or not 2 be: 🎭 é!\nZ';
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-corpus-')), 'text.txt');
  fs.writeFileSync(file, text);
  const encoded = readCorpusFile(file);

  it("keeps the model's ids, appends what the text adds in code-point order, and the ids still spell the text", () => {
    // A model's vocabulary in its own (unsorted) order, with characters the text lacks.
    const base = new Vocab(['t', 'o', ' ', 'q', 'T', '\n', 'e', 'x']);
    const over = reencodeCorpus(encoded, base);
    expect(over.vocab.chars.slice(0, base.size)).toEqual(base.chars);
    const added = over.vocab.chars.slice(base.size);
    expect(added).toEqual([...added].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
    expect(new Set(added)).toEqual(new Set(encoded.vocab.chars.filter((ch) => !base.has(ch))));
    expect(over.vocab.decode(over.ids)).toBe(text);
    expect(encoded.vocab.decode(encoded.ids)).toBe(text); // the corpus read is untouched
    expect([over.sha256, over.characters, over.source]).toEqual([encoded.sha256, encoded.characters, encoded.source]);
  });

  it('adds nothing where the model knows every character', () => {
    const base = Vocab.fromText(`${text}xyz`);
    const over = reencodeCorpus(encoded, base);
    expect(over.vocab.chars).toEqual(base.chars);
    expect(over.vocab.decode(over.ids)).toBe(text);
  });
});
