import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { basic, usePulse } from './pulse-harness';

/** Small seeded generator, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Case = { path: string; body: string | Buffer; headers: Record<string, string>; valid: string[]; invalid: string[] };

describe('fuzz: thousands of random and mutated payloads', () => {
  const h = usePulse();

  test('every valid event is stored exactly once and no invalid one is', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100000);
    const random = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const json = { authorization: basic(h.tenant.writeKey), 'content-type': 'application/json' };

    const validMessage = (kind: string) => {
      const messageId = `fz-${randomUUID()}`;
      const base: Record<string, unknown> = {
        messageId,
        [random() < 0.5 ? 'userId' : 'anonymousId']: `id-${Math.floor(random() * 50)}`,
        properties: { n: random() },
        context: { locale: 'en' },
      };
      if (kind === 'track') base.event = pick(['Opened', 'Clicked', 'Bought']);
      if (kind === 'group') base.groupId = 'g1';
      if (kind === 'alias')
        Object.assign(base, { userId: `id-${Math.floor(random() * 50)}`, previousId: `prev-${Math.floor(random() * 50)}` });
      if (random() < 0.3) base.timestamp = new Date(Date.now() - random() * 1e9).toISOString();
      return base;
    };
    const mutations: ((message: Record<string, unknown>, kind: string) => Record<string, unknown> | undefined)[] = [
      (m, kind) => (kind === 'alias' ? { ...m, previousId: undefined } : { ...m, userId: undefined, anonymousId: undefined }),
      (m) => ({ ...m, userId: pick([{}, [], true]) }),
      (m) => ({ ...m, properties: pick(['text', 7, [1]]) }),
      (m) => ({ ...m, timestamp: pick(['soon', '2026-13-45T99:00:00Z', 12]) }),
      (m) => ({ ...m, messageId: 'm'.repeat(100 + Math.floor(random() * 20)) + randomUUID() }),
      (m, kind) => (kind === 'track' ? { ...m, event: pick([undefined, '', 5]) } : undefined),
      (m) => ({ ...m, context: pick(['ctx', 1]) }),
    ];

    const cases: Case[] = [];
    const kinds = ['track', 'identify', 'page', 'screen', 'group', 'alias'];
    for (let i = 0; i < 2500; i++) {
      const roll = random();
      if (roll < 0.35) {
        const kind = pick(kinds);
        const message = validMessage(kind);
        const gz = random() < 0.2;
        cases.push({
          path: `/v1/${kind}`,
          body: gz ? gzipSync(JSON.stringify(message)) : JSON.stringify(message),
          headers: gz ? { ...json, 'content-encoding': 'gzip' } : json,
          valid: [message.messageId as string],
          invalid: [],
        });
      } else if (roll < 0.5) {
        const batch = Array.from({ length: 1 + Math.floor(random() * 10) }, () => {
          const kind = pick(kinds);
          return { type: kind, ...validMessage(kind) } as Record<string, unknown>;
        });
        cases.push({
          path: '/v1/batch',
          body: JSON.stringify({ batch }),
          headers: json,
          valid: batch.map((m) => m.messageId as string),
          invalid: [],
        });
      } else if (roll < 0.8) {
        const kind = pick(kinds);
        let mutated: Record<string, unknown> | undefined;
        while (!mutated) mutated = pick(mutations)(validMessage(kind), kind);
        const asBatch = random() < 0.5;
        const good = validMessage('page');
        const body = asBatch
          ? {
              batch: [
                { type: 'page', ...good },
                { type: kind, ...mutated },
              ],
            }
          : mutated;
        const messageIds = [mutated.messageId, ...(asBatch ? [good.messageId] : [])].filter((id): id is string => typeof id === 'string');
        cases.push({
          path: asBatch ? '/v1/batch' : `/v1/${kind}`,
          body: JSON.stringify(body),
          headers: json,
          valid: [],
          invalid: messageIds,
        });
      } else {
        const message = validMessage('track');
        message.event = 'E';
        const text = JSON.stringify(message);
        const garbage = pick([
          () => text.slice(0, Math.floor(random() * text.length)),
          () => text.replace(/[{}":,]/, pick(['', '}', '\u0000', '\\'])),
          () => Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))),
          () => gzipSync(text).subarray(0, 20),
        ])();
        const gz = Buffer.isBuffer(garbage) && random() < 0.5;
        const headers = pick([json, { ...json, authorization: basic('twk_fuzz') }, gz ? { ...json, 'content-encoding': 'gzip' } : json]);
        // A truncation can still be valid JSON of a valid message only if nothing was cut; then it counts as valid.
        const intact = typeof garbage === 'string' && garbage === text && headers === json;
        cases.push({
          path: '/v1/track',
          body: garbage,
          headers,
          valid: intact ? [message.messageId as string] : [],
          invalid: intact ? [] : [message.messageId as string],
        });
      }
    }
    // Retries: a tenth of the valid cases again.
    const retries = cases.filter((c) => c.valid.length > 0 && random() < 0.1).map((c) => ({ ...c }));
    const all = [...cases, ...retries];

    const unexpected: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < all.length) {
          const c = all[next++]!;
          const response = await fetch(`${h.pulse.url}${c.path}`, { method: 'POST', headers: c.headers, body: c.body });
          await response.arrayBuffer();
          const ok = response.status === 200;
          if (ok !== c.valid.length > 0 || (!ok && (response.status < 400 || response.status >= 500)))
            unexpected.push(`${c.path} → ${response.status}`);
        }
      }),
    );
    expect({ seed, unexpected }).toEqual({ seed, unexpected: [] });

    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    const valid = new Set(cases.flatMap((c) => c.valid));
    const invalid = cases.flatMap((c) => c.invalid).filter((id) => !valid.has(id));
    expect([...valid].filter((id) => stored.get(id) !== 1)).toEqual([]);
    expect(invalid.filter((id) => stored.has(id))).toEqual([]);
    expect(stored.size).toBe(valid.size);
    expect((await h.pulse.http().get('/health/ready')).status).toBe(200);
  });
});
