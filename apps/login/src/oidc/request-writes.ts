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

type PendingWrite =
  | { readonly kind: 'upsert'; readonly model: string; readonly id: string; readonly payload: OidcPayload; readonly expiresIn: number | null }
  | { readonly kind: 'destroy'; readonly model: string; readonly id: string };

/**
 * One statement for the request's upserts and deletes, its text built for how many of each: plain
 * parameters parse each payload once (a JSON array of payloads would be parsed twice), and naming
 * each shape lets every connection plan it once. A request writes at most a handful, so there are
 * few shapes.
 */
function commitStatement(upserts: number, destroys: number): string {
  const rows = Array.from({ length: upserts }, (_, i) => {
    const p = 2 + i * 7;
    return `($1::uuid, $${p}::text, $${p + 1}::text, $${p + 2}::jsonb, $${p + 3}::text, $${p + 4}::text, $${p + 5}::text,
      CASE WHEN $${p + 6}::int IS NULL THEN NULL ELSE now() + make_interval(secs => $${p + 6}::int) END)`;
  });
  const first = 2 + upserts * 7;
  const keys = Array.from({ length: destroys }, (_, i) => `($${first + i * 2}::text, $${first + i * 2 + 1}::text)`);
  const upserted = upserts === 0 ? 'SELECT 1 WHERE false' : `
    INSERT INTO login_oidc_models (tenant_id, model, id, payload, grant_id, user_code, uid, expires_at) VALUES ${rows.join(', ')}
    ON CONFLICT (tenant_id, model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
      user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at
    RETURNING 1`;
  const destroyed = destroys === 0 ? 'SELECT 1 WHERE false' : `
    DELETE FROM login_oidc_models WHERE tenant_id = $1 AND (model, id) IN (${keys.join(', ')}) RETURNING 1`;
  return `WITH upserted AS (${upserted}), destroyed AS (${destroyed})
    SELECT (SELECT count(*) FROM upserted) AS upserted, (SELECT count(*) FROM destroyed) AS destroyed`;
}

/**
 * The deferred writes of one provider request. The last write to an artefact wins, so the upserts
 * and deletes committed are disjoint and one statement applies them in any order. Reads of the
 * same request see them (the adapter asks here first).
 */
export class RequestWrites {
  private readonly pending = new Map<string, PendingWrite>();
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
  read(model: string, id: string): OidcPayload | 'destroyed' | undefined {
    const write = this.pending.get(keyOf(model, id));
    if (!write) return undefined;
    return write.kind === 'upsert' ? write.payload : 'destroyed';
  }

  /** A session (or interaction) this request saved under that uid. */
  readByUid(model: string, uid: string): OidcPayload | undefined {
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

  async commit(pool: Pool, tenantId: string): Promise<void> {
    // Whatever the request's context still writes later (work it started and did not await) must
    // not wait for a commit that has already happened.
    this.committed = true;
    if (this.pending.size === 0) return;
    const writes = [...this.pending.values()];
    this.pending.clear();
    const upserts = writes.flatMap((write) => (write.kind === 'upsert' ? [write] : []));
    const destroys = writes.flatMap((write) => (write.kind === 'destroy' ? [write] : []));
    const values: unknown[] = [tenantId];
    for (const { model, id, payload, expiresIn } of upserts) {
      values.push(model, id, payload, payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null, expiresIn);
    }
    for (const { model, id } of destroys) values.push(model, id);
    await pool.query({ name: `login_oidc_commit_request_${upserts.length}_${destroys.length}`, text: commitStatement(upserts.length, destroys.length), values });
  }
}

const writesOfRequest = new WeakMap<object, RequestWrites>();

/** Starts deferring the writes of this request (oidc-provider's context). */
export function openRequestWrites(request: object): RequestWrites {
  const writes = new RequestWrites();
  writesOfRequest.set(request, writes);
  return writes;
}

/** The request's deferred writes, when it defers them. */
export function requestWritesOf(request: object | undefined): RequestWrites | undefined {
  return request ? writesOfRequest.get(request) : undefined;
}

function keyOf(model: string, id: string): string {
  return `${model}|${id}`;
}
