import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { appendFromProjection, CommandRunner, EventCodec, type EventEnvelope, type Projection } from '#cqrs';
import type { AppendedEvents } from '#eventstore';
import { ACCOUNT_STREAM_PREFIX, accountStreamFor, type AccountEvent } from '#contracts';
import { lookupLocale } from '#platform';
import { accountDecider } from '../account/account.decider';
import { issueToken } from '../account/tokens';
import { BackgroundWork } from '../background-work';
import { Mailer, type OutgoingMail } from '../mail/mailer';
import { emailChangeMail, emailChangeNoticeMail, mailLocale } from '../mail/templates';
import { Clock, EVENT_STORE, REGISTER_SETTINGS, type EventStore, type RegisterSettings } from '../register.ports';
import { TenantDirectory } from '../tenants/tenant-directory';

export const REGISTER_EMAIL_CHANGES_PROJECTION = 'register.email-changes';

/**
 * Mails what a change of address needs once it is asked for, wherever it was asked (login's account
 * page appends the request to the account stream; so does register's `POST /me/email`): a link to
 * the new address, whose token register mints here (only a hash is stored, so only who mails can
 * mint it), and a notice without any link to the address in use.
 *
 * The link is recorded (EmailChangeLinkIssued, decided on the account as read: only the latest
 * request gets one, once, and an erased account none) in the transaction that moves this
 * subscription's checkpoint, so it is recorded exactly once; the mails go out once that
 * transaction has committed. A crash in between loses the mails (the person asks again), never
 * sends a link that was not recorded. Appended without an expected revision: a newer request
 * landing meanwhile is not harmed, as a link names its request and the fold ignores a link of
 * any other.
 */
@Injectable()
export class EmailChangeLinks {
  constructor(
    private readonly runner: CommandRunner,
    private readonly codec: EventCodec,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly tenants: TenantDirectory,
    private readonly mailer: Mailer,
    private readonly clock: Clock,
    private readonly background: BackgroundWork,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
  ) {}

  /** Records the link of one request inside `tx`; the mails to send once it commits, or none. */
  async record(
    tx: EntityManager,
    envelope: EventEnvelope,
    data: { userId: string; requestId: string },
  ): Promise<{ mails: OutgoingMail[]; appended?: AppendedEvents }> {
    const { tenantId } = envelope.metadata;
    const tenant = await this.tenants.byId(tenantId);
    if (!tenant) return { mails: [] };
    const now = this.clock.now();
    const stream = accountStreamFor(tenantId, data.userId);
    const { state } = await this.runner.load(stream, accountDecider);
    const token = issueToken(data.userId);
    const expiresAt = new Date(now.getTime() + this.settings.verificationTokenTtlMs);
    const decision = accountDecider.decide(
      { type: 'IssueEmailChangeLink', requestId: data.requestId, tokenHash: token.tokenHash, expiresAt },
      state,
    );
    if (!decision.accepted || decision.events.length === 0 || !state.emailChange) return { mails: [] };
    const context = { tenantId, correlationId: envelope.metadata.correlationId || envelope.id, causationId: envelope.id, now };
    const appended = await appendFromProjection(this.store, tx, stream, await this.codec.encodeAll(decision.events, context));
    const requested = lookupLocale(state.emailChange.locale) ?? this.settings.defaultLocale;
    const locale = mailLocale(state.profile.locale, requested);
    const mails = [emailChangeMail(tenant, state.emailChange.newEmail, token.token, this.settings, locale)];
    if (state.email) mails.push(emailChangeNoticeMail(tenant, state.email, locale));
    return { mails, appended };
  }

  /** Sends mails in the background: a failure is logged, not retried (the link is recorded; the person can ask again). */
  send(mails: readonly OutgoingMail[]): void {
    for (const mail of mails) this.background.run('email-change-mail', () => this.mailer.send(mail));
  }
}

/** The subscription that records each request's link and, once that is committed, mails it. */
export function emailChangeLinksProjection(links: EmailChangeLinks): Projection {
  let outbox: OutgoingMail[] = [];
  return {
    name: REGISTER_EMAIL_CHANGES_PROJECTION,
    filter: { streamNamePrefixes: [ACCOUNT_STREAM_PREFIX], eventTypePrefixes: ['EmailChangeRequested'] },
    // What the mails say is read from the account stream as it stands, not from the request.
    openPersonalData: false,
    async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
      const appended: AppendedEvents[] = [];
      for (const envelope of envelopes) {
        const event = envelope.event as AccountEvent;
        if (event.type !== 'EmailChangeRequested' || envelope.erased) continue;
        const recorded = await links.record(tx, envelope, event.data);
        outbox.push(...recorded.mails);
        if (recorded.appended) appended.push(recorded.appended);
      }
      return appended;
    },
    committed() {
      links.send(outbox);
      outbox = [];
    },
    resumed() {
      outbox = [];
    },
  };
}
