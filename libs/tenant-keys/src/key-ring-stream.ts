import type { EventCodec } from '#cqrs';
import type { EventStore } from '#eventstore';
import { keyRingOf, tenantStreamFor, type TenantEvent, type TenantKeyRing } from '#contracts';

/**
 * A tenant's key ring folded from register's tenant stream itself, for a key the service's table
 * has yet to learn (a tenant or key created a moment ago). Undefined when there is no such tenant.
 */
export async function keyRingFromStream(
  store: Pick<EventStore, 'readStream'>,
  codec: EventCodec,
  slug: string,
): Promise<TenantKeyRing | undefined> {
  const recorded = await store.readStream(tenantStreamFor(slug));
  if (recorded.length === 0) return undefined;
  const events: TenantEvent[] = [];
  for (const event of recorded) if (codec.understands(event)) events.push((await codec.decode<TenantEvent>(event)).event);
  return keyRingOf(events);
}
