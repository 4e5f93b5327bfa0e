import { Injectable } from '@nestjs/common';
import type { JsonObject, Position } from '#eventstore';
import { CommandRunner, type CommandContext, type CommandOutcome } from '#cqrs';
import { accountStreamFor, emailReservationStreamFor, type AccountEvent } from '#contracts';
import { accountDecider, type ImportUser } from '../account/account.decider';
import type { AccountRejection } from '../account/account.state';
import { EmailClaims } from '../account/email-claims';
import { Clock, EmailIndex, type TenantRef } from '../register.ports';
import { importDigest, importedUserId, type ImportedPerson, type LineProblem } from './import-lines';

export type LineOutcome =
  | { readonly outcome: 'imported'; readonly userId: string; readonly position?: Position }
  | { readonly outcome: 'unchanged'; readonly userId: string }
  | { readonly outcome: 'failed'; readonly problem: LineProblem };

/** Lines decided and appended at once: each is a few round trips, none hashes anything. */
const LINES_IN_FLIGHT = 8;

/**
 * Imports people line by line. Each line is the account decider's ImportUser on the stream its
 * external id names, with the e-mail claimed on the reservation stream sign-up uses, so an import
 * and a sign-up (or two imports) racing for one address end with exactly one account. A line
 * either stores its claim and its account together, or nothing: a claim whose account is refused
 * is given back.
 */
@Injectable()
export class ImportUsersHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly claims: EmailClaims,
    private readonly emailIndex: EmailIndex,
    private readonly clock: Clock,
  ) {}

  async execute(tenant: TenantRef, people: readonly ImportedPerson[], correlationId: string): Promise<LineOutcome[]> {
    const now = this.clock.now();
    const context: CommandContext = { tenantId: tenant.tenantId, correlationId, now };
    const outcomes: LineOutcome[] = new Array(people.length);
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < people.length; index = next++) {
        outcomes[index] = await this.importOne(people[index]!, context);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LINES_IN_FLIGHT, people.length) }, worker));
    return outcomes;
  }

  private async importOne(person: ImportedPerson, context: CommandContext): Promise<LineOutcome> {
    const { tenantId, now } = context;
    const userId = importedUserId(tenantId, person.externalId);
    const emailIndex = this.emailIndex.of(tenantId, person.email);
    const reservationStream = emailReservationStreamFor(tenantId, emailIndex);
    const command: ImportUser = {
      type: 'ImportUser',
      userId,
      externalId: person.externalId,
      email: person.email,
      emailIndex,
      emailVerified: person.emailVerified,
      legacyPassword: person.password as JsonObject | null,
      profile: person.profile,
      consents: person.consents,
      importDigest: importDigest(person),
      now,
    };
    const account = { streamName: accountStreamFor(tenantId, userId), decider: accountDecider, command, context };
    // A first import of a fresh address: claim and account in one round trip, all or nothing.
    const together = await this.claims.claimWithAccount(reservationStream, account, userId);
    if (together) return { outcome: 'imported', userId, position: together.position };
    // Imported before (decided on the account as it is: unchanged or refused), or the address is claimed.
    const known = await this.runner.load(account.streamName, accountDecider);
    if (known.state.status !== 'unregistered') return this.decided(await this.runner.handle({ ...account, retriesOnConflict: 2 }), userId);
    const claim = await this.claims.claim(reservationStream, userId, now, context);
    if (claim === 'taken') {
      return failed('email-taken', 'E-mail address already registered', 'another account of this tenant has this e-mail address');
    }
    const outcome = await this.runner.handle({ ...account, retriesOnConflict: 2, expectNewStream: true });
    // Refused after claiming (the same person imported at once with other content): the claim goes back.
    if (!outcome.accepted && claim === 'claimed') await this.claims.abandon(reservationStream, userId, now, context);
    return this.decided(outcome, userId);
  }

  private decided(outcome: CommandOutcome<AccountEvent, AccountRejection>, userId: string): LineOutcome {
    if (!outcome.accepted) return rejected(outcome.rejection);
    return outcome.events.length === 0 ? { outcome: 'unchanged', userId } : { outcome: 'imported', userId, position: outcome.position };
  }
}

function rejected(rejection: AccountRejection): LineOutcome {
  if (rejection.kind === 'AccountErased') {
    return failed('account-erased', 'Person erased', 'the person with this externalId was erased; erasure is not undone by an import');
  }
  return failed(
    'import-conflict',
    'externalId already imported with other content',
    'this externalId was imported before with different content; an import never overwrites an account',
  );
}

function failed(type: string, title: string, detail: string): LineOutcome {
  return { outcome: 'failed', problem: { type, title, detail } };
}
