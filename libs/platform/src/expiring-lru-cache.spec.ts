import { ExpiringLruCache } from './expiring-lru-cache';

describe('the key cache', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 0;
  });

  it('forgets an entry once its time to live has passed', () => {
    const cache = new ExpiringLruCache<string>(10, 30_000, clock);
    cache.set('a', 'key-a');
    now = 29_999;
    expect(cache.get('a')).toBe('key-a');
    now = 30_000;
    expect(cache.get('a')).toBeUndefined();
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new ExpiringLruCache<string>(2, 30_000, clock);
    cache.set('a', 'key-a');
    cache.set('b', 'key-b');
    cache.get('a');
    cache.set('c', 'key-c');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('key-a');
    expect(cache.get('c')).toBe('key-c');
    expect(cache.size).toBe(2);
  });

  it('moves an entry read behind the others only when it is not among the newest half already', () => {
    const cache = new ExpiringLruCache<string>(4, 30_000, clock);
    for (const key of ['a', 'b', 'c', 'd']) cache.set(key, `key-${key}`);
    expect(cache.get('c')).toBe('key-c');
    expect(cache.get('a')).toBe('key-a');
    cache.set('e', 'key-e');
    cache.set('f', 'key-f');
    // b went first; then c, not d: c was left where it was inserted, before d, although it was read
    // after d was inserted (exact LRU would have kept c).
    expect(['a', 'b', 'c', 'd', 'e', 'f'].filter((key) => cache.get(key) !== undefined)).toEqual(['a', 'd', 'e', 'f']);
  });

  it('drops an entry on delete at once', () => {
    const cache = new ExpiringLruCache<string>(10, 30_000, clock);
    cache.set('a', 'key-a');
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
  });

  it('caches nothing when its size or time to live is zero', () => {
    const unsized = new ExpiringLruCache<string>(0, 30_000, clock);
    const untimed = new ExpiringLruCache<string>(10, 0, clock);
    unsized.set('a', 'key-a');
    untimed.set('a', 'key-a');
    expect(unsized.get('a')).toBeUndefined();
    expect(untimed.get('a')).toBeUndefined();
  });
});
