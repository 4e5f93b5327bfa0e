import type { CommandRunner } from '#cqrs';
import type { JsonValue } from '#eventstore';
import { accountStreamFor, jsonObjectFragments, type ExportIdentities } from '#contracts';
import { accountDecider } from '../account/account.decider';

/** Fields that are ours, not the person's: left out of their export. */
const INTERNAL_FIELDS = new Set(['passwordHash', 'legacyPassword', 'importDigest', 'tokenHash', 'emailIndex']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Everything register holds about one account, from its source (the account's stream): the
 * account, its profile, its consents and its history, our internal fields left out. Undefined
 * when there is no such active account.
 */
export async function accountExportOf(runner: CommandRunner, tenantId: string, userId: string) {
  if (!UUID.test(userId)) return undefined;
  const { state, envelopes } = await runner.history(accountStreamFor(tenantId, userId), accountDecider);
  if (state.status !== 'active') return undefined;
  return {
    account: { id: userId, email: state.email, emailVerified: state.emailVerified, profile: state.profile },
    consents: Object.entries(state.consents).map(([purpose, consent]) => ({ purpose, ...consent })),
    history: envelopes.map((envelope) => ({
      type: envelope.event.type,
      at: envelope.metadata.occurredAt || envelope.createdAt.toISOString(),
      data: Object.fromEntries(Object.entries(envelope.event.data).filter(([field]) => !INTERNAL_FIELDS.has(field))),
    })),
  };
}

/** Register's section of an export: the accounts among the identities (an e-mail was resolved to its account when asked). */
export function registerSection(runner: CommandRunner) {
  return (_tx: unknown, tenantId: string, identities: ExportIdentities): AsyncIterable<string> => {
    async function* accounts() {
      for (const userId of identities.userIds) {
        const found = await accountExportOf(runner, tenantId, userId);
        if (found) yield [found as unknown as JsonValue];
      }
    }
    return jsonObjectFragments({ accounts: accounts() });
  };
}
