import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { accept, reject, type CommandRunner, type Decider } from '#cqrs';
import { accountStreamFor, EmailChangeRequested, type AccountEvent } from '#contracts';
import { normaliseEmail } from '#personal-data';
import { bounded } from '#platform';

/** What the request rule needs of register's account stream: whether it is live, and its address. */
interface AccountAddress {
  readonly live: boolean;
  readonly email?: string;
}

interface RequestEmailChange {
  readonly type: 'RequestEmailChange';
  readonly userId: string;
  readonly requestId: string;
  readonly newEmail: string;
  readonly locale: string;
  readonly now: Date;
}

/**
 * The request rule, on register's account stream as read (appended at that revision, as the
 * password change is): a live account records the request, sealed under the person's key like
 * every address on the stream; an erased one takes none. Nothing changes yet: register mails the
 * new address a link, and only that link moves the account (register's confirmation).
 */
export const emailChangeRequestDecider: Decider<RequestEmailChange, AccountEvent, AccountAddress, { kind: 'AccountNotFound' }> = {
  initialState: () => ({ live: false }),
  evolve(state, event) {
    switch (event.type) {
      case 'UserRegistered':
      case 'UserImported':
      case 'EmailChanged':
        return { live: true, email: event.data.email ?? undefined };
      case 'UserErased':
        return { live: false };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (!state.live) return reject({ kind: 'AccountNotFound' });
    // Moving to the address one has is nothing to do, and nothing to mail.
    if (command.newEmail === state.email) return accept();
    return accept(
      EmailChangeRequested({
        userId: command.userId,
        requestId: command.requestId,
        newEmail: command.newEmail,
        locale: command.locale,
        requestedAt: command.now.toISOString(),
      }),
    );
  },
};

/** An address as register's sign-up takes it (bounds from #platform, then the e-mail shape). */
const emailAddress = z.string().trim().pipe(bounded.identifier(254)).pipe(z.email());

/** The typed address, normalised as register stores addresses, or undefined when it is not one. */
export function newAddressOf(typed: string): string | undefined {
  const parsed = emailAddress.safeParse(typed);
  return parsed.success ? normaliseEmail(parsed.data) : undefined;
}

/** Appends the request for a signed-in person whose password was just checked again. */
export class EmailChangeRequests {
  constructor(private readonly commands: CommandRunner) {}

  async request(tenantId: string, userId: string, newEmail: string, locale: string): Promise<'requested' | 'gone'> {
    const now = new Date();
    const outcome = await this.commands.handle({
      streamName: accountStreamFor(tenantId, userId),
      decider: emailChangeRequestDecider,
      command: { type: 'RequestEmailChange' as const, userId, requestId: randomUUID(), newEmail, locale, now },
      context: { tenantId, correlationId: randomUUID(), now },
      retriesOnConflict: 2,
    });
    return outcome.accepted ? 'requested' : 'gone';
  }
}
