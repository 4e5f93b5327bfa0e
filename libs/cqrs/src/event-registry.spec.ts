import type { RecordedEvent } from '#eventstore';
import { EventCodec, type PersonalDataSealer } from './event-codec';
import { defineEvent, EventRegistry } from './event-types';

const passThrough: PersonalDataSealer = { seal: async (_t, _s, data) => data, open: async (_t, data) => ({ data, erased: false }) };

// Version 1 stored `name`; version 2 splits it; version 3 adds a default locale.
const MemberJoined = defineEvent<{ givenName: string; familyName: string; locale: string }>()('MemberJoined', {
  version: 3,
  upcasters: {
    1: (data) => {
      const [givenName, ...rest] = String(data.name).split(' ');
      return { givenName: givenName ?? '', familyName: rest.join(' ') };
    },
    2: (data) => ({ ...data, locale: 'en' }),
  },
});

const recorded = (schemaVersion: number, data: object): RecordedEvent => ({
  id: '0193c2a0-0000-7000-8000-000000000001',
  streamName: 'member-1',
  revision: 0n,
  position: { commit: 1n, prepare: 1n },
  type: 'MemberJoined',
  data: data as RecordedEvent['data'],
  metadata: { tenantId: 't1', schemaVersion },
  createdAt: new Date(),
});

describe('event registry and upcasting', () => {
  const codec = new EventCodec(new EventRegistry([MemberJoined]), passThrough);

  test('an event written at version 1 is read at the current version through every upcaster', async () => {
    const envelope = await codec.decode(recorded(1, { name: 'Ada King Lovelace' }));
    expect(envelope.event.data).toEqual({ givenName: 'Ada', familyName: 'King Lovelace', locale: 'en' });
  });

  test('an event at the current version is read as written', async () => {
    const envelope = await codec.decode(recorded(3, { givenName: 'Ada', familyName: 'Lovelace', locale: 'fr' }));
    expect(envelope.event.data).toEqual({ givenName: 'Ada', familyName: 'Lovelace', locale: 'fr' });
  });

  test('events are written at the current version with tenant, correlation and causation', async () => {
    const now = new Date('2026-11-23T10:00:00Z');
    const written = await codec.encode(MemberJoined({ givenName: 'A', familyName: 'B', locale: 'en' }), {
      tenantId: 't1',
      correlationId: 'c1',
      now,
    });
    expect(written.metadata).toEqual({
      tenantId: 't1',
      schemaVersion: 3,
      correlationId: 'c1',
      causationId: 'c1',
      occurredAt: now.toISOString(),
    });
  });

  test('event ids are distinct UUIDv7s that sort in the order they were made, many to a millisecond', async () => {
    const context = { tenantId: 't1', correlationId: 'c1', now: new Date() };
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++)
      ids.push((await codec.encode(MemberJoined({ givenName: 'A', familyName: 'B', locale: 'en' }), context)).id!);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    // Within one millisecond too (the ids of a millisecond share their first 12 hex digits).
    expect(new Set(ids.map((id) => id.replace('-', '').slice(0, 12))).size).toBeLessThan(ids.length / 2);
  });

  test('an event newer than the reader is refused rather than misread', async () => {
    await expect(codec.decode(recorded(4, {}))).rejects.toThrow(/newer than this reader/);
  });

  test('a version without its upcaster cannot be registered', () => {
    const Broken = defineEvent<{ a: string }>()('Broken', { version: 2 });
    expect(() => new EventRegistry([Broken])).toThrow(/lacks an upcaster from v1/);
  });
});
