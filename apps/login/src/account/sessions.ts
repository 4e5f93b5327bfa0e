import type { Pool } from 'pg';
import type { LoginTenant } from '../directory';
import type { LoginEventLog } from '../login-events';
import { SessionEnded, sessionStreamFor } from '../sign-in/sign-in.events';

/** One of a person's signed-in browsers, as the sessions page lists it. */
export interface PersonSession {
  readonly uid: string;
  /** When the person signed in on it (epoch ms). */
  readonly signedInAt: number;
  /**
   * When it was last used (epoch ms): oidc-provider saves a session on every request that uses it,
   * sliding its expiry to now + SESSION_TTL_S, so the expiry minus that lifetime is its last use.
   */
  readonly lastSeenAt: number;
  /** The names of the applications it signed in to (their ids when unnamed), sorted. */
  readonly clients: readonly string[];
  readonly current: boolean;
}

type EndReason = 'ended-by-person' | 'password-changed';

interface SessionPayload {
  uid?: string;
  loginTs?: number;
  iat?: number;
  exp?: number;
  authorizations?: Record<string, { grantId?: string; persistsLogout?: boolean }>;
}

/** A person sees at most this many sessions; more would be a page no one reads (the oldest are left out). */
const MAX_LISTED = 100;

/**
 * A person's sessions at one tenant, read from oidc-provider's storage (login_oidc_models, model
 * Session) and ended there, every query scoped by tenant and person: a uid of someone else's
 * session ends nothing.
 */
export class PersonSessions {
  constructor(
    private readonly pool: Pool,
    private readonly events: LoginEventLog,
    private readonly sessionTtlS: number,
  ) {}

  async list(tenantId: string, userId: string, currentUid: string): Promise<PersonSession[]> {
    const { rows } = await this.pool.query<{ payload: SessionPayload }>(
      `SELECT payload FROM login_oidc_models
        WHERE tenant_id = $1 AND model = 'Session' AND payload->>'accountId' = $2 AND (expires_at IS NULL OR expires_at > now())
        ORDER BY (payload->>'exp')::bigint DESC LIMIT ${MAX_LISTED}`,
      [tenantId, userId],
    );
    const clientIds = [...new Set(rows.flatMap((row) => Object.keys(row.payload.authorizations ?? {})))];
    const names = await this.clientNames(tenantId, clientIds);
    return rows.map(({ payload }) => {
      const signedInAt = (payload.loginTs ?? payload.iat ?? 0) * 1000;
      return {
        uid: String(payload.uid),
        signedInAt,
        lastSeenAt: Math.max(signedInAt, ((payload.exp ?? 0) - this.sessionTtlS) * 1000),
        clients: Object.keys(payload.authorizations ?? {})
          .map((clientId) => names.get(clientId) ?? clientId)
          .sort(),
        current: payload.uid === currentUid,
      };
    });
  }

  /** Ends the person's session `uid`; false when they have none by that uid (ended already, or not theirs). */
  async end(tenant: LoginTenant, userId: string, uid: string): Promise<boolean> {
    return (await this.endWhere(tenant, userId, 'ended-by-person', 'uid = $3', [uid])) > 0;
  }

  /** Ends every session of the person but `keepUid` (the browser asking); returns how many ended. */
  endOthers(tenant: LoginTenant, userId: string, keepUid: string, reason: EndReason = 'ended-by-person'): Promise<number> {
    return this.endWhere(tenant, userId, reason, 'uid IS DISTINCT FROM $3', [keepUid]);
  }

  /**
   * Deletes the sessions and, as oidc-provider's sign-out does, the grants they signed in to
   * (with their codes and tokens) unless a grant outlives its session (offline access), then
   * records SessionEnded for other services.
   */
  private async endWhere(tenant: LoginTenant, userId: string, reason: EndReason, condition: string, values: unknown[]): Promise<number> {
    const { rows } = await this.pool.query<{ payload: SessionPayload }>(
      `DELETE FROM login_oidc_models WHERE tenant_id = $1 AND model = 'Session' AND payload->>'accountId' = $2 AND ${condition}
        RETURNING payload`,
      [tenant.tenantId, userId, ...values],
    );
    const grants = rows.flatMap(({ payload }) =>
      Object.values(payload.authorizations ?? {}).flatMap((authorization) =>
        authorization.grantId && !authorization.persistsLogout ? [authorization.grantId] : [],
      ),
    );
    if (grants.length > 0)
      await this.pool.query(
        `DELETE FROM login_oidc_models WHERE tenant_id = $1 AND (grant_id = ANY($2::text[]) OR (model = 'Grant' AND id = ANY($2::text[])))`,
        [tenant.tenantId, grants],
      );
    if (rows.length > 0) {
      const at = new Date().toISOString();
      const ended = rows.map(({ payload }) => SessionEnded({ userId, reason, sessionUid: String(payload.uid), at }));
      await this.events.record(sessionStreamFor(tenant.tenantId, userId), tenant.tenantId, ended);
    }
    return rows.length;
  }

  private async clientNames(tenantId: string, clientIds: readonly string[]): Promise<Map<string, string>> {
    if (clientIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ client_id: string; name: string | null }>(
      "SELECT client_id, metadata->>'client_name' AS name FROM login_clients WHERE tenant_id = $1 AND client_id = ANY($2::text[])",
      [tenantId, clientIds],
    );
    return new Map(rows.flatMap((row) => (row.name ? [[row.client_id, row.name] as const] : [])));
  }
}
