import type { Pool } from 'pg';
import type { OidcPayload } from './postgres-adapter';

/**
 * What an authorization response leaves behind (the interaction it ends, the session, the code)
 * is written once the provider has handled the request and before Koa sends the response: one
 * statement and one commit instead of one each. Nobody can present those artefacts earlier: the
 * code and the session cookie travel in that very response, and a failed write turns it into an
 * error, so no code is ever handed out unstored. Tokens, grants and device codes are written at
 * once: the token endpoint's writes race code-replay revocation, which deferring would widen.
 */
export const WRITE_BEHIND_MODELS: ReadonlySet<string> = new Set(['Interaction', 'Session', 'AuthorizationCode']);

/** A write of an OIDC artefact to login_oidc_models, now or at the end of its request. */
export type ArtefactWrite =
  | { readonly kind: 'upsert'; readonly model: string; readonly id: string; readonly payload: OidcPayload; readonly expiresIn: number | null }
  | { readonly kind: 'destroy'; readonly model: string; readonly id: string };

/**
 * Applies writes to distinct artefacts of one tenant in one statement (one round trip, one commit).
 * Its text is built for how many upserts and deletes there are: plain parameters parse each
 * payload once (a JSON array of payloads would be parsed twice), and naming each shape lets every
 * connection plan it once. A request writes at most a handful, so there are few shapes.
 */
export async function storeWrites(pool: Pool, tenantId: string, writes: readonly ArtefactWrite[]): Promise<void> {
  const upserts = writes.flatMap((write) => (write.kind === 'upsert' ? [write] : []));
  const destroys = writes.flatMap((write) => (write.kind === 'destroy' ? [write] : []));
  if (upserts.length + destroys.length === 0) return;
  const values: unknown[] = [tenantId];
  const rows = upserts.map(({ model, id, payload, expiresIn }) => {
    const p = values.length + 1;
    values.push(model, id, payload, payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null, expiresIn);
    return `($1::uuid, $${p}::text, $${p + 1}::text, $${p + 2}::jsonb, $${p + 3}::text, $${p + 4}::text, $${p + 5}::text,
      CASE WHEN $${p + 6}::int IS NULL THEN NULL ELSE now() + make_interval(secs => $${p + 6}::int) END)`;
  });
  const keys = destroys.map(({ model, id }) => {
    values.push(model, id);
    return `($${values.length - 1}::text, $${values.length}::text)`;
  });
  const upsert = `INSERT INTO login_oidc_models (tenant_id, model, id, payload, grant_id, user_code, uid, expires_at) VALUES ${rows.join(', ')}
    ON CONFLICT (tenant_id, model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
      user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`;
  const destroy = `DELETE FROM login_oidc_models WHERE tenant_id = $1 AND (model, id) IN (${keys.join(', ')})`;
  // A data-modifying WITH runs whether or not the statement reads it.
  const text = rows.length === 0 ? destroy : keys.length === 0 ? upsert : `WITH destroyed AS (${destroy}) ${upsert}`;
  await pool.query({ name: `login_oidc_store_${rows.length}_${keys.length}`, text, values });
}

/**
 * What one provider request has read and written of its artefacts. Writes of the models above wait
 * here for the request's end; the last write to an artefact wins, so the upserts and deletes
 * committed are disjoint and one statement applies them in any order. Reads of the same request
 * see them (the adapter asks here first). Reads can also be remembered for the request's next find
 * of the same artefact: remembered consent reads the grant along with its id, then oidc-provider
 * finds the grant by id. Held by the request's context, so nothing outlives its request or reaches
 * another.
 */
export class RequestArtefacts {
  private readonly pending = new Map<string, ArtefactWrite>();
  private readonly remembered = new Map<string, OidcPayload>();
  private committed = false;

  /** Whether writes still wait for the request's end; after it they go to storage at once. */
  get open(): boolean {
    return !this.committed;
  }

  upsert(model: string, id: string, payload: OidcPayload, expiresIn: number | undefined): void {
    this.pending.set(keyOf(model, id), { kind: 'upsert', model, id, payload, expiresIn: expiresIn ?? null });
  }

  destroy(model: string, id: string): void {
    this.pending.set(keyOf(model, id), { kind: 'destroy', model, id });
  }

  /** The artefact as this request left it: its payload, 'destroyed', or undefined when untouched. */
  written(model: string, id: string): OidcPayload | 'destroyed' | undefined {
    const write = this.pending.get(keyOf(model, id));
    if (!write) return undefined;
    return write.kind === 'upsert' ? write.payload : 'destroyed';
  }

  /** A session (or interaction) this request saved under that uid. */
  writtenWithUid(model: string, uid: string): OidcPayload | undefined {
    for (const write of this.pending.values()) {
      if (write.kind === 'upsert' && write.model === model && write.payload.uid === uid) return write.payload;
    }
    return undefined;
  }

  /** A revoked grant takes the artefacts this request was about to store under it, too. */
  forgetGrant(grantId: string): void {
    for (const [key, write] of this.pending) {
      if (write.kind === 'upsert' && write.payload.grantId === grantId) this.pending.delete(key);
    }
  }

  remember(model: string, id: string, payload: OidcPayload): void {
    this.remembered.set(keyOf(model, id), payload);
  }

  /** A remembered read, taken once: a second find reads storage again. */
  takeRemembered(model: string, id: string): OidcPayload | undefined {
    const key = keyOf(model, id);
    const payload = this.remembered.get(key);
    this.remembered.delete(key);
    return payload;
  }

  async commit(pool: Pool, tenantId: string): Promise<void> {
    // Whatever the request's context still writes later (work it started and did not await) must
    // not wait for a commit that has already happened.
    this.committed = true;
    const writes = [...this.pending.values()];
    this.pending.clear();
    await storeWrites(pool, tenantId, writes);
  }
}

const artefactsOfRequest = new WeakMap<object, RequestArtefacts>();

/** Starts keeping this request's artefacts (oidc-provider's context). */
export function openRequestArtefacts(request: object): RequestArtefacts {
  const artefacts = new RequestArtefacts();
  artefactsOfRequest.set(request, artefacts);
  return artefacts;
}

export function requestArtefactsOf(request: object | undefined): RequestArtefacts | undefined {
  return request ? artefactsOfRequest.get(request) : undefined;
}

function keyOf(model: string, id: string): string {
  return `${model}|${id}`;
}
