import type { EntityManager } from 'typeorm';
import type { EventCodec } from '#cqrs';
import type { EventStore, JsonObject, JsonValue } from '#eventstore';
import { jsonObjectFragments, SectionObject, signInStreamFor, type ExportIdentities } from '#contracts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Sign-in events read from the log per query. */
const HISTORY_PAGE = 500;
/** What a person's sign-in history says about them (the blind-indexed account key stays ours). */
const SIGN_IN_TYPES = new Set(['LoginSucceeded', 'LoginFailed', 'AccountLocked']);

interface OidcPayload {
  accountId?: string;
  loginTs?: number;
  exp?: number;
  amr?: string[];
  authorizations?: Record<string, unknown>;
  clientId?: string;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

const isoOfSeconds = (seconds: number | undefined) => (seconds === undefined ? null : new Date(seconds * 1000).toISOString());

/**
 * Login's section of an export, per account it holds for the identities (register's account ids,
 * or the e-mail's blind index): its sessions (when signed in, until when, to which applications),
 * its grants (which application, which scopes) and its sign-in history (each attempt's time,
 * outcome and application), application names as the tenant registered them. No session, grant or
 * token id is exported: they are credentials.
 */
export function loginSection(deps: { readonly store: EventStore; readonly codec: EventCodec }) {
  return (tx: EntityManager, tenantId: string, identities: ExportIdentities): AsyncIterable<string> => {
    async function* accounts() {
      const found: { user_id: string; email_index: string }[] = await tx.query(
        `SELECT user_id::text, email_index FROM login_credentials
          WHERE tenant_id = $1 AND (user_id::text = ANY($2) OR email_index = ANY($3)) ORDER BY user_id`,
        [tenantId, identities.userIds.filter((id) => UUID.test(id)), identities.emailIndexes],
      );
      const clients: { client_id: string; name: string | null }[] = await tx.query(
        "SELECT client_id, metadata->>'client_name' AS name FROM login_clients WHERE tenant_id = $1",
        [tenantId],
      );
      const names = new Map(clients.map((row) => [row.client_id, row.name ?? row.client_id]));
      const client = (clientId: string | undefined) =>
        clientId === undefined ? null : { id: clientId, name: names.get(clientId) ?? clientId };
      for (const account of found) {
        const models: { model: string; payload: OidcPayload; expires_at: Date | null }[] = await tx.query(
          `SELECT model, payload, expires_at FROM login_oidc_models
            WHERE tenant_id = $1 AND model IN ('Session', 'Grant') AND payload->>'accountId' = $2 ORDER BY id`,
          [tenantId, account.user_id],
        );
        const sessions = models
          .filter((row) => row.model === 'Session')
          .map(({ payload, expires_at }) => ({
            signedInAt: isoOfSeconds(payload.loginTs),
            expiresAt: expires_at?.toISOString() ?? isoOfSeconds(payload.exp),
            methods: payload.amr ?? [],
            clients: Object.keys(payload.authorizations ?? {}).map((id) => client(id)),
          }));
        const grants = models
          .filter((row) => row.model === 'Grant')
          .map(({ payload, expires_at }) => ({
            client: client(payload.clientId),
            scope: payload.openid?.scope ?? null,
            resources: Object.fromEntries(Object.entries(payload.resources ?? {})),
            expiresAt: expires_at?.toISOString() ?? isoOfSeconds(payload.exp),
          }));
        // One account's history may be long: written out a page at a time.
        yield [
          new SectionObject({
            userId: account.user_id,
            sessions,
            grants,
            signIns: signInHistory(deps, tenantId, account.email_index, client),
          }),
        ];
      }
    }
    return jsonObjectFragments({ accounts: accounts() });
  };
}

/** The attempts on the account's sign-in stream, oldest first, a page at a time. */
async function* signInHistory(
  deps: { readonly store: EventStore; readonly codec: EventCodec },
  tenantId: string,
  accountKey: string,
  client: (clientId: string | undefined) => JsonValue,
): AsyncGenerator<JsonValue[]> {
  for (let from = 0n; ;) {
    const recorded = await deps.store.readStream(signInStreamFor(tenantId, accountKey), { fromRevision: from, maxCount: HISTORY_PAGE });
    const page: JsonValue[] = [];
    for (const event of recorded) {
      if (!SIGN_IN_TYPES.has(event.type) || !deps.codec.understands(event)) continue;
      const data = (await deps.codec.decode(event)).event.data as JsonObject;
      page.push({
        type: event.type,
        at: typeof data.at === 'string' ? data.at : null,
        ...(typeof data.clientId === 'string' ? { client: client(data.clientId) } : {}),
        ...(typeof data.reason === 'string' ? { reason: data.reason } : {}),
        ...(typeof data.lockedUntil === 'string' ? { lockedUntil: data.lockedUntil } : {}),
      });
    }
    yield page;
    if (recorded.length < HISTORY_PAGE) return;
    from = recorded[recorded.length - 1]!.revision + 1n;
  }
}
