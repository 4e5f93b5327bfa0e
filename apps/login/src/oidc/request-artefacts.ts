import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool } from 'pg';
import { WITHOUT_SYNCHRONOUS_COMMIT, type WritesBeside } from '#eventstore';
import type { Credential } from '../directory';
import type { OidcPayload } from './postgres-adapter';

/**
 * What an authorization response leaves behind (the interaction it ends, the session, the code)
 * is written once the provider has handled the request and before Koa sends the response: one
 * statement and one commit instead of one each. Nobody can present those artefacts earlier: the
 * code and the session cookie travel in that very response, and a failed write turns it into an
 * error, so no code is ever handed out unstored. Tokens, grants and device codes are written at
 * once: the token endpoint's writes race code-replay revocation, which deferring would widen.
 * The hosted sign-in page holds back the interaction result it saves in the same way (see
 * collectArtefacts), to store it in the statement that records the sign-in's events.
 */
export const WRITE_BEHIND_MODELS: ReadonlySet<string> = new Set(['Interaction', 'Session', 'AuthorizationCode']);

/** A grant as storage holds it. */
export interface StoredGrant {
  readonly id: string;
  readonly payload: OidcPayload;
}

/**
 * Whom a sign-in page expects to complete its interaction, known before the interaction is read:
 * the person a passkey's user handle names, or the blind index of the address a password form
 * carries. The interaction's read then looks for that person's latest grant to its client too (the
 * consent the resume will ask about), unless the interaction names a person already (a result, or
 * a second step pending), and for the credential of the person a user id names. A wrong guess
 * costs nothing but those lookups: the resume asks storage for the person who did sign in.
 */
export interface AccountHint {
  readonly userId?: string;
  readonly emailIndex?: string;
  /** The page decides whether a second factor is due: how far the person's factors have got comes along (see factorsRead). */
  readonly decidesSecondFactor?: boolean;
}

/** A write of an OIDC artefact to login_oidc_models, now or at the end of its request. */
export type ArtefactWrite =
  | {
      readonly kind: 'upsert';
      readonly model: string;
      readonly id: string;
      readonly payload: OidcPayload;
      readonly expiresIn: number | null;
    }
  | { readonly kind: 'destroy'; readonly model: string; readonly id: string };

/**
 * Writes to distinct artefacts of one tenant as data-modifying WITH queries over $1 (the tenant)
 * and the parameters after it, for one statement (one round trip, one commit). The text is built
 * for how many upserts and deletes there are: plain parameters parse each payload once (a JSON
 * array of payloads would be parsed twice), and the shape names the statement so that every
 * connection plans it once. A request writes at most a handful, so there are few shapes.
 */
export function artefactWritesBeside(tenantId: string, writes: readonly ArtefactWrite[]): WritesBeside | undefined {
  const upserts = writes.flatMap((write) => (write.kind === 'upsert' ? [write] : []));
  const destroys = writes.flatMap((write) => (write.kind === 'destroy' ? [write] : []));
  if (upserts.length + destroys.length === 0) return undefined;
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
  const queries: string[] = [];
  if (keys.length > 0)
    queries.push(`destroyed_artefacts AS (DELETE FROM login_oidc_models WHERE tenant_id = $1 AND (model, id) IN (${keys.join(', ')}))`);
  if (rows.length > 0) {
    queries.push(`stored_artefacts AS (INSERT INTO login_oidc_models (tenant_id, model, id, payload, grant_id, user_code, uid, expires_at) VALUES ${rows.join(', ')}
      ON CONFLICT (tenant_id, model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
        user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at)`);
  }
  return { withQueries: queries.join(', '), values, shape: `oidc_${rows.length}_${keys.length}` };
}

/**
 * Whether a crash of PostgreSQL may lose these writes without weakening anything, so that their
 * commit need not wait for the WAL's fsync (synchronous_commit off for that transaction alone;
 * about 5 ms a commit on the bench's disk, and a sign-in made several). What such a loss costs is
 * a sign-in to start again: an interaction (begun, answered or ended) comes back as it was, a code
 * handed out is unknown to the token endpoint (invalid_grant, the client authorizes again), a
 * session a sign-in has just started or extended is back to what it was (the person signs in again).
 * The events that record the sign-in are never written this way. Nor is anything a person or a
 * client can rely on having taken effect: a session ended or cut back (sign-out, its destroy and
 * end_session's save), grants, tokens, consumed codes. A later durable commit flushes the WAL up
 * to it, so whatever durable state comes to name one of these writes makes it durable too.
 * `signInLanding`: the writes are those of the authorization endpoint (a new request, or one
 * resumed after the sign-in page), where a session is only ever started or extended.
 */
export function restartable(writes: readonly ArtefactWrite[], signInLanding: boolean): boolean {
  return (
    writes.length > 0 &&
    writes.every(
      (write) =>
        write.model === 'Interaction' ||
        (write.kind === 'upsert' && (write.model === 'AuthorizationCode' || (signInLanding && write.model === 'Session'))),
    )
  );
}

/**
 * Applies writes to distinct artefacts of one tenant in one statement (see artefactWritesBeside),
 * committed without waiting for the WAL's fsync when a crash may lose them (restartable).
 */
export async function storeWrites(pool: Pool, tenantId: string, writes: readonly ArtefactWrite[], signInLanding = false): Promise<void> {
  const beside = artefactWritesBeside(tenantId, writes);
  if (!beside) return;
  const relaxed = restartable(writes, signInLanding);
  // A data-modifying WITH runs whether or not the statement reads it. set_config(..., true) holds
  // until the end of the statement's own transaction, so its commit is the one that does not wait.
  await pool.query({
    name: `login_store_${beside.shape}${relaxed ? '_restartable' : ''}`,
    text: `WITH ${beside.withQueries} ${relaxed ? WITHOUT_SYNCHRONOUS_COMMIT : 'SELECT 1'}`,
    values: [...beside.values],
  });
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
  /** Who the page reading the interaction expects to sign in, before the interaction names them (see AccountHint). */
  accountHint: AccountHint = {};
  /** The credential of the person accountHint.userId names, read with the interaction (null: none; undefined: not asked). */
  expectedCredential?: Credential | null;
  /**
   * The revision of the second factors' stream of the person the interaction read found (-1n: none),
   * when the hint asked for it and the event store shares login's database; undefined otherwise.
   */
  factorsRead?: { readonly accountId: string; readonly revision: bigint };
  private readonly pending = new Map<string, ArtefactWrite>();
  private readonly remembered = new Map<string, OidcPayload>();
  private readonly latestGrants = new Map<string, StoredGrant | null>();
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

  /** What storage answered, in this request, for a person's latest grant to a client (null: none). */
  rememberLatestGrant(accountId: string, clientId: string, grant: StoredGrant | null): void {
    this.latestGrants.set(`${accountId}|${clientId}`, grant);
  }

  /** The latest grant remembered for this request; undefined when storage was not asked. */
  knownLatestGrant(accountId: string, clientId: string): StoredGrant | null | undefined {
    return this.latestGrants.get(`${accountId}|${clientId}`);
  }

  /**
   * New artefacts for another try of the same request (a decision taken again after a refused
   * statement): nothing written or remembered yet, and what storage answered for latest grants.
   */
  afresh(): RequestArtefacts {
    const next = new RequestArtefacts();
    for (const [key, grant] of this.latestGrants) next.latestGrants.set(key, grant);
    return next;
  }

  /** `signInLanding`: this was a request of the authorization endpoint (see restartable). */
  async commit(pool: Pool, tenantId: string, signInLanding = false): Promise<void> {
    await storeWrites(pool, tenantId, this.close(), signInLanding);
  }

  /** Ends the wait and hands over the writes, for a caller that stores them with writes of its own. */
  close(): ArtefactWrite[] {
    // Whatever the request's context still writes later (work it started and did not await) must
    // not wait for a commit that has already happened.
    this.committed = true;
    const writes = [...this.pending.values()];
    this.pending.clear();
    return writes;
  }
}

const artefactsOfRequest = new WeakMap<object, RequestArtefacts>();
const pageRequests = new AsyncLocalStorage<object>();

/**
 * Runs `work` (a hosted page's handler, outside any provider request) as a request of its own:
 * the writes it makes of the models above wait in the artefacts returned (`into`, when the page
 * holds some already), for the page to store them together with writes of its own.
 */
export async function collectArtefacts<T>(
  work: () => Promise<T>,
  into?: RequestArtefacts,
): Promise<{ result: T; artefacts: RequestArtefacts }> {
  const request = {};
  const artefacts = into ?? new RequestArtefacts();
  adoptRequestArtefacts(request, artefacts);
  const result = await pageRequests.run(request, work);
  return { result, artefacts };
}

/** The page request collectArtefacts runs, if any. */
export function currentPageRequest(): object | undefined {
  return pageRequests.getStore();
}

/** Starts keeping this request's artefacts (oidc-provider's context). */
export function openRequestArtefacts(request: object): RequestArtefacts {
  const artefacts = new RequestArtefacts();
  artefactsOfRequest.set(request, artefacts);
  return artefacts;
}

/** Lets another request (a resume a page runs, see page-resume.ts) read and write the page's artefacts. */
export function adoptRequestArtefacts(request: object, artefacts: RequestArtefacts): void {
  artefactsOfRequest.set(request, artefacts);
}

export function requestArtefactsOf(request: object | undefined): RequestArtefacts | undefined {
  return request ? artefactsOfRequest.get(request) : undefined;
}

function keyOf(model: string, id: string): string {
  return `${model}|${id}`;
}
