/**
 * A bounded map that evicts its least recently used entry, give or take half its size: an entry
 * read is kept for at least half the cache's size of insertions after the read. Entries also expire
 * after a fixed time (`Infinity` for never). Pure: the clock is passed in, so expiry can be tested
 * without waiting.
 */
export class ExpiringLruCache<V> {
  // A Map iterates in insertion order; re-inserting on a read keeps the least recent entry first.
  private readonly entries = new Map<string, { value: V; expiresAt: number; insertedAs: number }>();
  /** Insertions so far; an entry's own number says how many entries were inserted after it. */
  private insertions = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new Error('maxEntries must be a non-negative integer');
    if (!(ttlMs >= 0)) throw new Error('ttlMs must be non-negative');
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Moving an entry that is among the newest half gains nothing (half the cache is inserted
    // before it could be evicted, and a read then moves it), and on a hot cache a delete and
    // re-insert on every read is most of what a read costs.
    if (this.insertions - entry.insertedAs >= this.maxEntries / 2) this.insert(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.maxEntries === 0 || this.ttlMs === 0) return;
    this.insert(key, { value, expiresAt: this.now() + this.ttlMs, insertedAs: 0 });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private insert(key: string, entry: { value: V; expiresAt: number; insertedAs: number }): void {
    this.entries.delete(key);
    entry.insertedAs = ++this.insertions;
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
