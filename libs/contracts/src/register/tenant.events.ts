import { defineEvent, type EventOf } from '#cqrs';

/**
 * A tenant and the hashes of its keys. Pulse and login learn tenants from this event, so it carries
 * what they need to check a key (SHA-256 of it) and never a key itself.
 */
export const TenantCreated = defineEvent<{
  tenantId: string;
  slug: string;
  name: string;
  apiKeyHash: string;
  writeKeyHash: string;
  createdAt: string;
}>()('TenantCreated');

export type TenantEvent = EventOf<typeof TenantCreated>;
export const tenantEvents = [TenantCreated];
