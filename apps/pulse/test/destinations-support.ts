import { randomUUID } from 'node:crypto';
import type { PulseHarness, Tenant } from './pulse-harness';

/** Pulse's settings for webhook tests: the local receiver allowed over http, short backoffs. */
export const OUTBOUND_TEST_ENV = {
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  OUTBOUND_RETRY_BASE_MS: '50',
  OUTBOUND_BREAKER_COOLDOWN_MS: '100',
};

/** POST /t/{tenant}/destinations with the tenant's API key. */
export function createDestination(pulse: PulseHarness, tenant: Tenant, body: object) {
  return pulse.http().post(`/t/${tenant.slug}/destinations`).set('authorization', `Bearer ${tenant.apiKey}`).send(body);
}

/** A call on one destination's routes with the tenant's API key. */
export function onDestination(pulse: PulseHarness, tenant: Tenant, method: 'get' | 'post' | 'patch' | 'delete', id: string, path = '') {
  return pulse.http()[method](`/t/${tenant.slug}/destinations/${id}${path}`).set('authorization', `Bearer ${tenant.apiKey}`);
}

export const track = (event: string, extra: object = {}) => ({
  type: 'track',
  userId: `u-${randomUUID()}`,
  event,
  messageId: randomUUID(),
  ...extra,
});
