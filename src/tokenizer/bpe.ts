// Follows transformers models/clvp/tokenization_clvp.py: ClvpTokenizer.bpe (GPT-2 byte-level BPE with merge ranks).

/** One merge rule of merges.txt: the two symbols that fuse, in rank order. */
export type MergePair = readonly [string, string];

// Byte-level symbols never contain whitespace (merges.txt is whitespace separated), so a space
// is a safe separator for pair keys.
const pairKey = (a: string, b: string) => a + ' ' + b;

/**
 * Byte-pair encoding of one pre-tokenised, byte-level word. The lowest-ranked adjacent pair is
 * merged everywhere (left to right, non-overlapping) until no ranked pair is left, exactly as
 * the Python loop does.
 */
export class BytePairEncoding {
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, readonly string[]>();

  /**
   * @param merges merge rules in file order; a rule's rank is its index (a repeated rule keeps
   *   the rank of its last occurrence, as Python's dict(zip(merges, range(n))) does).
   * @param maxCacheEntries the Python cache grows without bound; this one is cleared when full
   *   so that a long-running process tokenising arbitrary text keeps a bounded footprint.
   */
  constructor(
    readonly merges: readonly (MergePair | null)[],
    private readonly maxCacheEntries = 1 << 17,
  ) {
    merges.forEach((m, rank) => {
      if (m) this.ranks.set(pairKey(m[0], m[1]), rank);
    });
  }

  /** Rank of a merge rule, or undefined when the pair never merges. */
  rank(a: string, b: string): number | undefined {
    return this.ranks.get(pairKey(a, b));
  }

  /** The symbols a byte-level word splits into. */
  encode(token: string): readonly string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    let word = Array.from(token);
    // Python returns single-symbol words without caching them; the result is the same.
    if (word.length < 2) return word;
    for (;;) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.ranks.get(pairKey(word[i], word[i + 1]));
        if (r !== undefined && r < best) {
          best = r;
          first = word[i];
          second = word[i + 1];
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && i + 1 < word.length && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]);
          i += 1;
        }
      }
      word = merged;
      if (word.length === 1) break;
    }
    if (this.cache.size >= this.maxCacheEntries) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }
}
