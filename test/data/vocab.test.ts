import { Vocab, encodeKnown } from '../../src/data/vocab';

describe('Vocab', () => {
  it('counts code points, not UTF-16 units: an emoji is one character', () => {
    const v = Vocab.fromText('a😀b😀a');
    expect(v.size).toBe(3);
    expect(v.chars).toEqual(['a', 'b', '😀']);
    expect(Array.from(v.encode('😀a'))).toEqual([2, 0]);
    expect(v.decode(v.encode('a😀b'))).toBe('a😀b');
  });

  it('round-trips through its serialized form', () => {
    const v = Vocab.fromText('Hello, wörld\n\t😀');
    const back = Vocab.deserialize(v.serialize());
    expect(back.chars).toEqual(v.chars);
  });

  it('names unknown characters once each, in order', () => {
    const v = Vocab.fromText('abc');
    expect(v.unknown('xabyx')).toEqual(['x', 'y']);
    expect(() => v.id('z')).toThrow(/not in the vocabulary/);
  });

  it('rejects a damaged serialized vocabulary', () => {
    expect(() => Vocab.deserialize('[1, -4]')).toThrow();
    expect(() => Vocab.deserialize('{"a":1}')).toThrow();
  });
});

describe('encodeKnown', () => {
  it('drops unknown characters, counts them, and scores only pairs adjacent in the text', () => {
    const v = Vocab.fromText('abc');
    // a b ? c ? ? a 😀 b  →  known: a b c a b
    const k = encodeKnown('ab?c??a😀b', v);
    expect(Array.from(k.ids)).toEqual([0, 1, 2, 0, 1]);
    // a→b adjacent; b→c straddles '?'; c→a straddles '??'; a→b straddles the emoji; the last has no next.
    expect(Array.from(k.counted)).toEqual([1, 0, 0, 0, 0]);
    expect(k.characters).toBe(9);
    expect([...k.unknown]).toEqual([['?', 3], ['😀', 1]]);
  });

  it('counts every adjacent pair of a fully known text', () => {
    const k = encodeKnown('abcab', Vocab.fromText('abc'));
    expect(Array.from(k.counted)).toEqual([1, 1, 1, 1, 0]);
    expect(k.unknown.size).toBe(0);
  });
});
