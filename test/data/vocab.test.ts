import { Vocab } from '../../src/data/vocab';

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
