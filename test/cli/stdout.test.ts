// TextOut: batched writes arrive complete and in order, the first at once; pushback and EPIPE reach the caller.

import { ExitSignal } from '../../src/cli/exit';
import { Sink, TextOut } from '../../src/cli/stdout';

/** A sink that records each write and answers as told. */
class FakeSink implements Sink {
  writes: string[] = [];
  accept = true;
  pendingDone: Array<(err?: Error | null) => void> = [];
  write(text: string, done: (err?: Error | null) => void): boolean {
    this.writes.push(text);
    if (this.accept) done();
    else this.pendingDone.push(done);
    return this.accept;
  }
}

describe('TextOut', () => {
  it('sends the first write at once, batches the rest, and loses nothing on flush', async () => {
    const sink = new FakeSink();
    const out = new TextOut(sink, 60_000, 1_000_000);
    const text = 'To be, or not to be: that is the question. 🙂 ünïcode';
    const [first, ...rest] = [...text];
    await out.write(first);
    expect(sink.writes).toEqual(['T']);
    for (const ch of rest) expect(out.write(ch)).toBeNull();
    await out.flush();
    expect(sink.writes.join('')).toBe(text);
    expect(sink.writes.length).toBe(2);
  });

  it('flushes when enough characters are pending', () => {
    const sink = new FakeSink();
    const out = new TextOut(sink, 60_000, 4);
    for (const ch of 'abcdefghij') out.write(ch);
    expect(sink.writes).toEqual(['a', 'bcde', 'fghi']);
  });

  it('flushes again once the interval has passed', () => {
    const sink = new FakeSink();
    const out = new TextOut(sink, 0, 1_000_000);
    for (const ch of 'abc') out.write(ch);
    expect(sink.writes).toEqual(['a', 'b', 'c']);
  });

  it('makes the writer wait while the sink pushes back', async () => {
    const sink = new FakeSink();
    sink.accept = false;
    const out = new TextOut(sink, 60_000, 1_000_000);
    const wait = out.write('x');
    expect(wait).toBeInstanceOf(Promise);
    let resolved = false;
    void wait!.then(() => { resolved = true; });
    await Promise.resolve();
    expect(resolved).toBe(false);
    sink.pendingDone[0]();
    await wait;
    expect(resolved).toBe(true);
  });

  it('turns EPIPE into ExitSignal(0), then refuses further text', async () => {
    const sink = new FakeSink();
    sink.accept = false;
    const out = new TextOut(sink, 60_000, 1_000_000);
    const wait = out.write('x');
    sink.pendingDone[0](Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await expect(wait).rejects.toBeInstanceOf(ExitSignal);
    await expect(out.write('y')).rejects.toBeInstanceOf(ExitSignal);
  });

  it('refuses text once the stream is marked closed', async () => {
    const out = new TextOut(new FakeSink());
    out.markClosed();
    await expect(out.write('x')).rejects.toEqual(new ExitSignal(0));
    await expect(out.flush()).rejects.toEqual(new ExitSignal(0));
  });
});
