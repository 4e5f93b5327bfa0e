import type { Pool } from 'pg';
import { requestWritesOf, storeWrites, WRITE_BEHIND_MODELS } from './request-writes';

/** What oidc-provider stores through its adapter: a JSON payload per model and id. */
export type OidcPayload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number };

/** oidc-provider's adapter contract (see its example/my_adapter.js), one instance per model name. */
export interface OidcAdapter {
  upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<OidcPayload | undefined>;
  findByUserCode(userCode: string): Promise<OidcPayload | undefined>;
  findByUid(uid: string): Promise<OidcPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export type OidcAdapterClass = new (model: string) => OidcAdapter;

/** Hook the provider factory uses to answer `Client` lookups from the event-sourced client read model. */
export type ClientLookup = (tenantId: string, clientId: string) => Promise<OidcPayload | undefined>;

/**
 * Artefacts a request has already read, for the adapter's next find of the same one in that
 * request: remembered consent reads the grant along with its id, then oidc-provider finds the
 * grant by id. Keyed by the request's context, so nothing outlives its request or reaches
 * another, and taken once: a second find reads storage again.
 */
const readInRequest = new WeakMap<object, Map<string, OidcPayload>>();

export function rememberForRequest(request: object, model: string, id: string, payload: OidcPayload): void {
  let reads = readInRequest.get(request);
  if (!reads) readInRequest.set(request, (reads = new Map()));
  reads.set(`${model}|${id}`, payload);
}

function takeRemembered(request: object | undefined, model: string, id: string): OidcPayload | undefined {
  const reads = request && readInRequest.get(request);
  const payload = reads?.get(`${model}|${id}`);
  if (payload) reads!.delete(`${model}|${id}`);
  return payload;
}

/**
 * Sessions, grants, codes and tokens of one tenant's provider in login_oidc_models. Every query is
 * scoped by the tenant, so a token id that exists in tenant A is simply unknown to tenant B.
 * Clients are not stored here: they come from the event-sourced client read model.
 * `currentRequest` names the request being served (oidc-provider's context), if any; when that
 * request defers its writes (see request-writes.ts), the models named there are written with it.
 */
export function postgresAdapterFor(pool: Pool, tenantId: string, clients: ClientLookup, currentRequest: () => object | undefined = () => undefined): OidcAdapterClass {
  return class TenantAdapter implements OidcAdapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void> {
      const deferred = this.deferredWrites();
      if (deferred) return deferred.upsert(this.model, id, payload, expiresIn);
      await storeWrites(pool, tenantId, [{ kind: 'upsert', model: this.model, id, payload, expiresIn: expiresIn ?? null }]);
    }

    async find(id: string): Promise<OidcPayload | undefined> {
      if (this.model === 'Client') return clients(tenantId, id);
      const written = requestWritesOf(currentRequest())?.read(this.model, id);
      if (written) return written === 'destroyed' ? undefined : written;
      return takeRemembered(currentRequest(), this.model, id) ?? this.one('id', id);
    }

    findByUserCode(userCode: string): Promise<OidcPayload | undefined> {
      return this.one('user_code', userCode);
    }

    async findByUid(uid: string): Promise<OidcPayload | undefined> {
      const writes = requestWritesOf(currentRequest());
      return writes?.readByUid(this.model, uid) ?? this.one('uid', uid);
    }

    async consume(id: string): Promise<void> {
      await pool.query({
        name: 'login_oidc_consume',
        text: `UPDATE login_oidc_models SET consumed_at = now(),
           payload = payload || jsonb_build_object('consumed', extract(epoch from now())::bigint)
         WHERE tenant_id = $1 AND model = $2 AND id = $3`,
        values: [tenantId, this.model, id],
      });
    }

    async destroy(id: string): Promise<void> {
      const deferred = this.deferredWrites();
      if (deferred) return deferred.destroy(this.model, id);
      await storeWrites(pool, tenantId, [{ kind: 'destroy', model: this.model, id }]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      // Revoking a grant revokes every artefact issued under it, whatever its model.
      requestWritesOf(currentRequest())?.forgetGrant(grantId);
      await pool.query('DELETE FROM login_oidc_models WHERE tenant_id = $1 AND grant_id = $2', [tenantId, grantId]);
    }

    private deferredWrites() {
      const writes = WRITE_BEHIND_MODELS.has(this.model) ? requestWritesOf(currentRequest()) : undefined;
      return writes?.open ? writes : undefined;
    }

    private async one(column: 'id' | 'user_code' | 'uid', value: string): Promise<OidcPayload | undefined> {
      // Named, so each connection plans these once: the adapter runs them on every OIDC request.
      const { rows } = await pool.query<{ id: string; payload: OidcPayload }>({
        name: `login_oidc_find_by_${column}_with_id`,
        text: `SELECT id, payload FROM login_oidc_models WHERE tenant_id = $1 AND model = $2 AND ${column} = $3
           AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
        values: [tenantId, this.model, value],
      });
      const found = rows[0];
      if (!found) return undefined;
      // Written earlier in this request, though not yet in storage.
      const written = requestWritesOf(currentRequest())?.read(this.model, found.id);
      return written === 'destroyed' ? undefined : (written ?? found.payload);
    }
  };
}

/** The most recent live grant a person gave a client in this tenant: consent remembered across sessions. */
export async function latestGrant(pool: Pool, tenantId: string, accountId: string, clientId: string): Promise<{ id: string; payload: OidcPayload } | undefined> {
  const { rows } = await pool.query<{ id: string; payload: OidcPayload }>({
    name: 'login_oidc_latest_grant',
    text: `SELECT id, payload FROM login_oidc_models
     WHERE tenant_id = $1 AND model = 'Grant' AND payload->>'accountId' = $2 AND payload->>'clientId' = $3
       AND (expires_at IS NULL OR expires_at > now())
     ORDER BY (payload->>'iat')::bigint DESC LIMIT 1`,
    values: [tenantId, accountId, clientId],
  });
  return rows[0];
}

/** Deletes expired artefacts of every tenant; returns how many went. */
export async function deleteExpiredModels(pool: Pool, batch = 5000): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM login_oidc_models WHERE ctid IN (
       SELECT ctid FROM login_oidc_models WHERE expires_at < now() LIMIT $1)`,
    [batch],
  );
  return rowCount ?? 0;
}
