import { given } from '#cqrs/testing';
import { destinationDecider } from './destination.decider';
import {
  DestinationChanged,
  DestinationCreated,
  DestinationDeleted,
  DestinationSecretRotated,
  type DestinationSettings,
} from './destination.events';

const now = new Date('2026-12-06T10:00:00.000Z');
const settings: DestinationSettings = {
  name: 'warehouse',
  url: 'https://hooks.example.com/in',
  enabled: true,
  filters: { types: ['track'], events: null },
  mappings: [],
  batching: { maxMessages: 1, maxWaitMs: 0 },
  ordered: false,
  historical: false,
};
const created = DestinationCreated({ destinationId: 'd1', settings, secret: { sealed: 's1' }, createdAt: now.toISOString() });
const deleted = DestinationDeleted({ destinationId: 'd1', deletedAt: now.toISOString() });
const rotated = (sealed: string, until: string) =>
  DestinationSecretRotated({ destinationId: 'd1', secret: { sealed }, previousValidUntil: until, rotatedAt: now.toISOString() });

describe('webhook destinations', () => {
  test('a destination is created once', () => {
    given(destinationDecider, [])
      .when({ type: 'CreateDestination', destinationId: 'd1', settings, secret: { sealed: 's1' }, now })
      .then([created]);
    given(destinationDecider, [created])
      .when({ type: 'CreateDestination', destinationId: 'd1', settings, secret: { sealed: 's2' }, now })
      .thenRejects({ kind: 'DestinationExists' });
  });

  test('a change records the whole settings after it; a change that changes nothing records nothing', () => {
    given(destinationDecider, [created])
      .when({ type: 'ChangeDestination', changes: { enabled: false }, now })
      .then([DestinationChanged({ destinationId: 'd1', settings: { ...settings, enabled: false }, changedAt: now.toISOString() })]);
    given(destinationDecider, [created])
      .when({ type: 'ChangeDestination', changes: { url: settings.url }, now })
      .thenNothingHappens();
  });

  test('a rotated-out secret keeps signing until its grace period ends', () => {
    given(destinationDecider, [created])
      .when({ type: 'RotateSecret', secret: { sealed: 's2' }, graceMs: 3_600_000, now })
      .then([rotated('s2', '2026-12-06T11:00:00.000Z')]);
  });

  test('a second rotation keeps only the secret it replaces beside the new one', () => {
    const state = [created, rotated('s2', '2026-12-06T11:00:00.000Z'), rotated('s3', '2026-12-06T12:00:00.000Z')].reduce(
      destinationDecider.evolve,
      destinationDecider.initialState(),
    );
    expect(state.secrets).toEqual([
      { sealed: 's3', validUntil: null },
      { sealed: 's2', validUntil: '2026-12-06T12:00:00.000Z' },
    ]);
  });

  test('a deleted or unknown destination can be neither changed, rotated nor deleted', () => {
    for (const history of [[], [created, deleted]]) {
      given(destinationDecider, history)
        .when({ type: 'ChangeDestination', changes: { enabled: false }, now })
        .thenRejects({ kind: 'DestinationNotFound' });
      given(destinationDecider, history)
        .when({ type: 'RotateSecret', secret: { sealed: 's2' }, graceMs: 0, now })
        .thenRejects({ kind: 'DestinationNotFound' });
      given(destinationDecider, history).when({ type: 'DeleteDestination', now }).thenRejects({ kind: 'DestinationNotFound' });
    }
  });

  test('a deleted destination id is not created again', () => {
    given(destinationDecider, [created, deleted])
      .when({ type: 'CreateDestination', destinationId: 'd1', settings, secret: { sealed: 's1' }, now })
      .thenRejects({ kind: 'DestinationExists' });
  });
});
