import { fold } from '#cqrs';
import { given } from '#cqrs/testing';
import { webhookDecider } from './webhook.decider';
import {
  WebhookEndpointChanged,
  WebhookEndpointCreated,
  WebhookEndpointDeleted,
  WebhookEndpointSecretRotated,
  type WebhookSettings,
} from './webhook.events';
import { takes, webhookMessage } from './webhook-messages';

const now = new Date('2026-12-06T10:00:00.000Z');
const settings: WebhookSettings = { url: 'https://crm.example.com/in', description: null, enabled: true, events: null };
const created = WebhookEndpointCreated({ endpointId: 'e1', settings, secret: { sealed: 's1' }, createdAt: now.toISOString() });

describe('webhook endpoints', () => {
  test('an endpoint is created once', () => {
    given(webhookDecider, [])
      .when({ type: 'Create', endpointId: 'e1', settings, secret: { sealed: 's1' }, now })
      .then([created]);
    given(webhookDecider, [created])
      .when({ type: 'Create', endpointId: 'e1', settings, secret: { sealed: 's2' }, now })
      .thenRejects({ kind: 'EndpointExists' });
  });

  test('a change records the whole settings after it; one that changes nothing records nothing', () => {
    given(webhookDecider, [created])
      .when({ type: 'Change', changes: { events: ['tier.changed'] }, now })
      .then([
        WebhookEndpointChanged({ endpointId: 'e1', settings: { ...settings, events: ['tier.changed'] }, changedAt: now.toISOString() }),
      ]);
    given(webhookDecider, [created])
      .when({ type: 'Change', changes: { enabled: true }, now })
      .then([]);
  });

  test('a rotated-out secret keeps signing for its grace period, beside the new one', () => {
    const until = new Date(now.getTime() + 60_000).toISOString();
    given(webhookDecider, [created])
      .when({ type: 'RotateSecret', secret: { sealed: 's2' }, graceMs: 60_000, now })
      .then([
        WebhookEndpointSecretRotated({
          endpointId: 'e1',
          secret: { sealed: 's2' },
          previousValidUntil: until,
          rotatedAt: now.toISOString(),
        }),
      ]);
    const rotated = WebhookEndpointSecretRotated({
      endpointId: 'e1',
      secret: { sealed: 's2' },
      previousValidUntil: until,
      rotatedAt: now.toISOString(),
    });
    expect(fold(webhookDecider, [created, rotated], webhookDecider.initialState()).secrets).toEqual([
      { sealed: 's2', validUntil: null },
      { sealed: 's1', validUntil: until },
    ]);
  });

  test('a deleted endpoint takes no more commands', () => {
    const deleted = WebhookEndpointDeleted({ endpointId: 'e1', deletedAt: now.toISOString() });
    given(webhookDecider, [created]).when({ type: 'Delete', now }).then([deleted]);
    given(webhookDecider, [created, deleted])
      .when({ type: 'Change', changes: { enabled: false }, now })
      .thenRejects({ kind: 'EndpointNotFound' });
  });
});

describe('webhook messages', () => {
  const at = new Date('2026-12-06T11:00:00.000Z');

  test("an adjustment's message names points and actor, never the reason (the member's personal data)", () => {
    const message = webhookMessage({
      id: 'ev1',
      type: 'PointsAdjusted',
      data: {
        userId: 'u1',
        adjustmentId: 'a1',
        points: 5,
        reason: 'late parcel',
        actor: 'agent-7',
        lots: [],
        adjustedAt: at.toISOString(),
      },
      createdAt: at,
    });
    expect(message).toEqual({
      id: 'ev1',
      type: 'points.adjusted',
      timestamp: at.toISOString(),
      data: { userId: 'u1', points: 5, adjustmentId: 'a1', actor: 'agent-7', adjustedAt: at.toISOString() },
    });
    expect(JSON.stringify(message)).not.toContain('late parcel');
  });

  test("a redemption's later event carries the facts of its request", () => {
    const message = webhookMessage(
      { id: 'ev2', type: 'RedemptionCancellationCompleted', data: { redemptionId: 'r1', completedAt: at.toISOString() }, createdAt: at },
      { userId: 'u1', rewardId: 'w1', cost: 150 },
    );
    expect(message).toMatchObject({ type: 'redemption.cancelled', data: { redemptionId: 'r1', userId: 'u1', rewardId: 'w1', cost: 150 } });
  });

  test('events no webhook announces make no message; an endpoint takes the types it lists, all of them when it lists none', () => {
    expect(webhookMessage({ id: 'ev3', type: 'TierRetained', data: {}, createdAt: at })).toBeUndefined();
    expect(takes(settings, 'points.expired')).toBe(true);
    expect(takes({ ...settings, events: ['tier.changed'] }, 'points.expired')).toBe(false);
    expect(takes({ ...settings, enabled: false }, 'points.expired')).toBe(false);
  });
});
