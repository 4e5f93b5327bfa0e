import type { DomainEvent } from '#cqrs';
import { earliestEnd, keysIssuedBy, type TenantEvent } from '#contracts';

/** Table names come from code, never from input; checked all the same, since they are spliced into SQL. */
export function checkedTableName(table: string): string {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(table)) throw new Error(`not a table name: ${table}`);
  return table;
}

/**
 * A service's copy of every tenant's key ring, one row per key. Looked up by the key's hash alone
 * (a tracking call names no tenant), so that is the primary key; revocations find keys by tenant
 * and id. `valid_from` is when register issued the key, or `-infinity` for keys copied from a
 * service's tenants table when this table was introduced (their issue time was not kept there).
 */
export function tenantKeysTableDdl(table: string): string {
  const name = checkedTableName(table);
  return `
    CREATE TABLE IF NOT EXISTS ${name} (
      key_hash text PRIMARY KEY,
      tenant_id uuid NOT NULL,
      key_id text NOT NULL,
      kind text NOT NULL,
      valid_from timestamptz NOT NULL,
      valid_until timestamptz,
      UNIQUE (tenant_id, key_id)
    )`;
}

interface Transaction {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/**
 * Applies the tenant events among a projection batch's events (others are passed over) to the service's key
 * table, in two statements at most. Rows are what the shared fold says (`keysIssuedBy`, and a key
 * given two ends ends at the earlier, `earliestEnd`, which LEAST applies to the stored end). A key
 * whose hash another key already has is not stored twice: the first keeps it.
 */
export async function applyTenantKeyEvents(tx: Transaction, table: string, events: readonly DomainEvent[]): Promise<void> {
  const name = checkedTableName(table);
  const issued: [string, string, string, string, string][] = [];
  const ends = new Map<string, { tenantId: string; keyId: string; at: string }>();
  for (const event of events) {
    const tenantEvent = event as TenantEvent;
    if (tenantEvent.type === 'TenantKeyRevoked') {
      const { tenantId, keyId, effectiveAt } = tenantEvent.data;
      const key = `${tenantId}/${keyId}`;
      ends.set(key, { tenantId, keyId, at: earliestEnd(ends.get(key)?.at ?? null, effectiveAt) });
    } else if (tenantEvent.type === 'TenantCreated' || tenantEvent.type === 'TenantKeyIssued') {
      for (const key of keysIssuedBy(tenantEvent)) issued.push([key.keyHash, tenantEvent.data.tenantId, key.keyId, key.kind, key.issuedAt]);
    }
  }
  if (issued.length > 0) {
    await tx.query(
      `INSERT INTO ${name} (key_hash, tenant_id, key_id, kind, valid_from)
       SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[]) ON CONFLICT DO NOTHING`,
      [0, 1, 2, 3, 4].map((column) => issued.map((row) => row[column])),
    );
  }
  if (ends.size > 0) {
    const rows = [...ends.values()];
    await tx.query(
      `UPDATE ${name} k SET valid_until = LEAST(coalesce(k.valid_until, 'infinity'::timestamptz), e.at)
       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS e(tenant_id, key_id, at)
       WHERE k.tenant_id = e.tenant_id AND k.key_id = e.key_id`,
      [rows.map((row) => row.tenantId), rows.map((row) => row.keyId), rows.map((row) => row.at)],
    );
  }
}
