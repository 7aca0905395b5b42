// Stop strings: a sample ends right after the first occurrence of any of them (`--stop`).

/**
 * Watches text go by, one character at a time. An occurrence counts only when it ends at a
 * generated character: a prime that already holds a stop string does not end the sample before
 * it starts, but one that ends where the model carries on (prime "…\n", then "\n") does.
 */
export class StopMatcher {
  private tail = '';
  private readonly keep: number;

  constructor(readonly stops: readonly string[], prime = '') {
    // UTF-16 units: endsWith compares them, and the tail only ever grows by whole characters.
    this.keep = Math.max(0, ...stops.map((s) => s.length));
    this.tail = prime.slice(-this.keep);
  }

  /** Appends a generated character; returns the stop string the text now ends with, if any. */
  push(ch: string): string | null {
    if (this.keep === 0) return null;
    this.tail = (this.tail + ch).slice(-this.keep);
    for (const s of this.stops) if (this.tail.endsWith(s)) return s;
    return null;
  }

  /** A copy with the same tail, for a beam that branches. */
  clone(): StopMatcher {
    const copy = new StopMatcher(this.stops);
    copy.tail = this.tail;
    return copy;
  }
}
