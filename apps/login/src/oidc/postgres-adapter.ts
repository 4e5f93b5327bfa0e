import type { Pool } from 'pg';
import { BOUNDS, textProblem } from '#platform';
import { credentialOf, type CredentialRow } from '../directory';
import { requestArtefactsOf, storeWrites, WRITE_BEHIND_MODELS, type RequestArtefacts, type StoredGrant } from './request-artefacts';

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
 * Sessions, grants, codes and tokens of one tenant's provider in login_oidc_models. Every query is
 * scoped by the tenant, so a token id that exists in tenant A is simply unknown to tenant B.
 * Clients are not stored here: they come from the event-sourced client read model.
 * `currentRequest` names the request being served (oidc-provider's context), if any: reads ask
 * what it wrote and remembered first, and it holds the writes of the models request-artefacts.ts
 * names until it ends.
 */
export function postgresAdapterFor(
  pool: Pool,
  tenantId: string,
  clients: ClientLookup,
  currentRequest: () => object | undefined = () => undefined,
  /**
   * Where the event store keeps its streams in this database: the prefix of a person's factors
   * stream (the user id follows), for the interaction read to say how far it has got.
   */
  factorsStreamPrefix?: string,
): OidcAdapterClass {
  return class TenantAdapter implements OidcAdapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void> {
      const deferred = this.deferredWrites();
      if (deferred) return deferred.upsert(this.model, id, payload, expiresIn);
      await storeWrites(pool, tenantId, [{ kind: 'upsert', model: this.model, id, payload, expiresIn: expiresIn ?? null }]);
    }

    async find(id: string): Promise<OidcPayload | undefined> {
      if (!couldBeStored(id)) return undefined;
      if (this.model === 'Client') return clients(tenantId, id);
      const request = requestArtefactsOf(currentRequest());
      const written = request?.written(this.model, id);
      if (written) return written === 'destroyed' ? undefined : written;
      const remembered = request?.takeRemembered(this.model, id);
      if (remembered) return remembered;
      if (this.model === 'Interaction' && request) return this.interactionWithLatestGrant(id, request);
      return (await this.one('id', id))?.payload;
    }

    async findByUserCode(userCode: string): Promise<OidcPayload | undefined> {
      if (!couldBeStored(userCode)) return undefined;
      return (await this.one('user_code', userCode))?.payload;
    }

    async findByUid(uid: string): Promise<OidcPayload | undefined> {
      if (!couldBeStored(uid)) return undefined;
      const request = requestArtefactsOf(currentRequest());
      const saved = request?.writtenWithUid(this.model, uid);
      if (saved) return saved;
      const found = await this.one('uid', uid);
      if (!found) return undefined;
      // Written earlier in this request, though not yet in storage.
      const written = request?.written(this.model, found.id);
      return written === 'destroyed' ? undefined : (written ?? found.payload);
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
      requestArtefactsOf(currentRequest())?.forgetGrant(grantId);
      await pool.query('DELETE FROM login_oidc_models WHERE tenant_id = $1 AND grant_id = $2', [tenantId, grantId]);
    }

    private deferredWrites() {
      const request = WRITE_BEHIND_MODELS.has(this.model) ? requestArtefactsOf(currentRequest()) : undefined;
      return request?.open ? request : undefined;
    }

    /**
     * An interaction a person has just signed in to is found by the request that resumes it, which
     * then looks for the grant they gave this client earlier (remembered consent); so is one a
     * sign-in page is about to complete, for the person it names or expects (request.accountHint):
     * both in one round trip, the grant (or that there is none) remembered for the request.
     */
    private async interactionWithLatestGrant(id: string, request: RequestArtefacts): Promise<OidcPayload | undefined> {
      const { userId, emailIndex } = request.accountHint;
      const values = [tenantId, id, userId ?? null, emailIndex ?? null];
      const { rows } = await pool.query<{
        payload: OidcPayload | null;
        account_id: string | null;
        client_id: string | null;
        grant_id: string | null;
        grant: OidcPayload | null;
        credential: CredentialRow | null;
        factors_revision?: string | null;
      }>(
        factorsStreamPrefix === undefined || !request.accountHint.decidesSecondFactor
          ? { name: 'login_oidc_find_interaction_with_latest_grant', text: INTERACTION_WITH_LATEST_GRANT, values }
          : {
              name: 'login_oidc_find_interaction_with_latest_grant_and_factors',
              text: INTERACTION_WITH_LATEST_GRANT_AND_FACTORS,
              values: [...values, factorsStreamPrefix],
            },
      );
      const found = rows[0];
      // Only the statement that looked says it (null there: no stream yet).
      if (found?.factors_revision !== undefined && found.account_id !== null) {
        request.factorsRead = { accountId: found.account_id, revision: BigInt(found.factors_revision ?? -1) };
      }
      if (userId !== undefined) {
        const row = found?.credential;
        request.expectedCredential = (row && credentialOf({ ...row, password_hash: null, legacy_password: null })) ?? null;
      }
      if (!found?.payload) return undefined;
      // The statement looked for the grant only when the interaction names a person and a client.
      if (found.account_id !== null && found.client_id !== null) {
        request.rememberLatestGrant(
          found.account_id,
          found.client_id,
          found.grant_id && found.grant ? { id: found.grant_id, payload: found.grant } : null,
        );
      }
      return found.payload;
    }

    private async one(column: 'id' | 'user_code' | 'uid', value: string): Promise<{ id: string; payload: OidcPayload } | undefined> {
      // Named, so each connection plans these once: the adapter runs them on every OIDC request.
      const { rows } = await pool.query<{ id: string; payload: OidcPayload }>({
        name: `login_oidc_find_by_${column}_with_id`,
        text: `SELECT id, payload FROM login_oidc_models WHERE tenant_id = $1 AND model = $2 AND ${column} = $3
           AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
        values: [tenantId, this.model, value],
      });
      return rows[0];
    }
  };
}

/**
 * Ids, uids and user codes are minted by oidc-provider (short, URL-safe) but arrive from anyone, in
 * codes, tokens and request URIs: one PostgreSQL cannot hold as text (a NUL, an unpaired surrogate)
 * failed the query and answered 500. No such string was ever stored, so it names nothing.
 */
function couldBeStored(value: unknown): boolean {
  return typeof value === 'string' && textProblem(value, 'identifier', BOUNDS.identifierLength) === undefined;
}

/** The most recent live grant a person gave a client in this tenant: consent remembered across sessions. */
export async function latestGrant(pool: Pool, tenantId: string, accountId: string, clientId: string): Promise<StoredGrant | undefined> {
  const { rows } = await pool.query<StoredGrant>({
    name: 'login_oidc_latest_grant',
    text: LATEST_GRANT,
    values: [tenantId, accountId, clientId],
  });
  return rows[0];
}

/** The latest live grant of `account` to `client` (SQL expressions) in tenant $1. */
function latestGrantOf(account: string, client: string): string {
  return `SELECT g.id, g.payload FROM login_oidc_models g
    WHERE g.tenant_id = $1 AND g.model = 'Grant' AND g.payload->>'accountId' = ${account} AND g.payload->>'clientId' = ${client}
      AND (g.expires_at IS NULL OR g.expires_at > now())
    ORDER BY (g.payload->>'iat')::bigint DESC LIMIT 1`;
}

const LATEST_GRANT = latestGrantOf('$2', '$3');

/**
 * Interaction $2 and, while it has no consent yet, the person it names (signed in, or at the second
 * step) or else the one a page expects ($3 a user id, $4 the blind index of an address; null when
 * none), its client, and that person's latest grant to that client. COALESCE evaluates no further
 * than the first person found, so the address is looked up only when nothing earlier names one.
 * The credential of user $3 comes along without its hashes (for a sign-in that needs no password).
 */
const INTERACTION_WITH_LATEST_GRANT = `SELECT i.payload, asked.account_id, asked.client_id, g.id AS grant_id, g.payload AS grant,
    (SELECT json_build_object('user_id', c.user_id, 'email', c.email, 'email_verified', c.email_verified, 'given_name', c.given_name,
       'family_name', c.family_name, 'locale', c.locale)
     FROM login_credentials c WHERE c.tenant_id = $1 AND c.user_id = $3::uuid) AS credential
  FROM login_oidc_models i
  LEFT JOIN LATERAL (SELECT COALESCE(i.payload #>> '{result,login,accountId}', i.payload #>> '{result,secondFactor,accountId}', $3::text,
      (SELECT c.user_id::text FROM login_credentials c WHERE c.tenant_id = $1 AND c.email_index = $4::text)) AS account_id,
    i.payload #>> '{params,client_id}' AS client_id
    WHERE i.payload #> '{result,consent}' IS NULL) asked ON true
  LEFT JOIN LATERAL (${latestGrantOf('asked.account_id', 'asked.client_id')}) g ON true
  WHERE i.tenant_id = $1 AND i.model = 'Interaction' AND i.id = $2 AND (i.expires_at IS NULL OR i.expires_at > now())`;

/**
 * INTERACTION_WITH_LATEST_GRANT, and the revision of the factors stream ($5 followed by the user id)
 * of the person it found (null: no stream), from the event store's own table in this database: the
 * password post then knows whether a second factor is due without reading the stream again.
 */
const INTERACTION_WITH_LATEST_GRANT_AND_FACTORS = `SELECT found.*,
    (SELECT s.revision::text FROM es_streams s WHERE s.stream_name = $5::text || found.account_id) AS factors_revision
  FROM (${INTERACTION_WITH_LATEST_GRANT}) found`;

/** Deletes expired artefacts of every tenant; returns how many went. */
export async function deleteExpiredModels(pool: Pool, batch = 5000): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM login_oidc_models WHERE ctid IN (
       SELECT ctid FROM login_oidc_models WHERE expires_at < now() LIMIT $1)`,
    [batch],
  );
  return rowCount ?? 0;
}
