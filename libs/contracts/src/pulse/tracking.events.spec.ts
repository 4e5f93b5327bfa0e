import { EventRegistry } from '#cqrs';
import { LEGACY_CLIENT_SOURCE, MessageReceived } from './tracking.events';

describe('MessageReceived as readers see it', () => {
  const registry = new EventRegistry([MessageReceived]);
  const stored = {
    kind: 'track',
    messageId: 'm1',
    userId: 'u1',
    anonymousId: null,
    event: 'Order Completed',
    timestamp: '2026-01-01T00:00:00.000Z',
    receivedAt: '2026-01-01T00:00:00.000Z',
  };

  test("a message stored before sources were recorded (v2) came from the tenant's first write key: a client source", () => {
    expect(registry.upcast('MessageReceived', 2, { ...stored, carriesTraits: false })).toEqual({
      ...stored,
      carriesTraits: false,
      source: LEGACY_CLIENT_SOURCE,
      historical: false,
    });
  });

  test('a v1 message is lifted through both steps', () => {
    expect(registry.upcast('MessageReceived', 1, { ...stored, context: { traits: { plan: 'pro' } } })).toEqual({
      ...stored,
      context: { traits: { plan: 'pro' } },
      carriesTraits: true,
      source: { kind: 'client', keyId: 'initial-write' },
      historical: false,
    });
  });

  test('a v3 message keeps the source it names, and was live: /v1/import marks history from v4 on', () => {
    const server = { ...stored, carriesTraits: false, source: { kind: 'server', keyId: 'k-1' } };
    expect(registry.upcast('MessageReceived', 3, server)).toEqual({ ...server, historical: false });
    const imported = { ...server, historical: true };
    expect(registry.upcast('MessageReceived', 4, imported)).toEqual(imported);
  });
});
