import { Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PASSWORD_MAX_LENGTH } from '#contracts';
import { ProjectionRunner } from '#cqrs';
import { normaliseEmail } from '#personal-data';
import { BOUNDS, brandLocale, ProblemError, TenantConcurrencyLimiter, textProblem } from '#platform';
import { wordsFor, type LoginMessageKey } from '../messages/messages';
import { SIGN_IN_LIMITER } from '../sign-in/interaction.http';
import { PasswordCheck, type SignInOutcome } from '../sign-in/password-check';
import { signedOutView } from '../mfa/account-security.views';
import { AccountAccess, stringField, type SignedIn } from './account-access';
import { emailView, passwordView, sessionsView, type ReturnTo } from './account.views';
import { EmailChangeRequests, newAddressOf } from './email-change';
import { RETURN_TO_MAX, returnToOf } from './return-to';
import { PasswordChange } from './password-change';
import { PersonSessions } from './sessions';

/** What the password page says when the current password is refused (the sign-in's reasons, which count alike). */
const CURRENT_REFUSED: Record<Exclude<SignInOutcome, { ok: true }>['reason'], { status: number; text: LoginMessageKey }> = {
  invalid_credentials: { status: 401, text: 'account.password.wrongCurrent' },
  locked: { status: 429, text: 'failure.locked' },
  throttled: { status: 429, text: 'failure.throttled' },
  email_unverified: { status: 403, text: 'failure.email_unverified' },
};

/**
 * The signed-in person's own pages besides security: change the password, see and end sessions.
 * Same session and CSRF rules as the security page (AccountAccess). Each takes `return_to`, the
 * authorization request that sent the person here (`/t/{tenant}/auth?…` on this host, nothing
 * else): once the change is done the browser goes back into it, and so to the application.
 */
@Controller('t/:tenant/account')
export class AccountController {
  constructor(
    private readonly access: AccountAccess,
    private readonly passwords: PasswordCheck,
    private readonly change: PasswordChange,
    private readonly emailChanges: EmailChangeRequests,
    private readonly sessions: PersonSessions,
    private readonly readModels: ProjectionRunner,
    @Inject(SIGN_IN_LIMITER) private readonly signIns: TenantConcurrencyLimiter,
  ) {}

  @Get('password')
  async passwordPage(
    @Param('tenant') slug: string,
    @Query('return_to') back: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const person = await this.access.signedInOrAnswered(slug, req, reply);
    if (person) await this.access.send(reply, 200, passwordView(person, returnToOf(person.tenant, back)));
  }

  /**
   * The current password is checked as a sign-in's is (one argon2id verification, counted by the
   * lock-out: a stolen session cannot guess it), and only after the new one passes the rules, so a
   * weak choice costs no attempt. Then PasswordChanged, and every other session of the person ends.
   */
  @Post('password')
  async changePassword(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const person = await this.access.posted(slug, req, reply);
    const returnTo = returnToOf(person.tenant, stringField(req, 'return_to', RETURN_TO_MAX));
    // Longer than any acceptable password: sliced, it could pass the rules as another password.
    const current = stringField(req, 'current_password', PASSWORD_MAX_LENGTH * 2 + 1);
    const chosen = stringField(req, 'new_password', PASSWORD_MAX_LENGTH * 2 + 1);
    const problems = this.change.problemsOf(chosen, person.email);
    if (current === '')
      return this.access.send(reply, 400, passwordView(person, returnTo, { error: 'account.password.noCurrent', problems }));
    if (problems.length > 0) return this.access.send(reply, 400, passwordView(person, returnTo, { problems }));
    const outcome = await this.withCurrentPassword(person, req, current, () =>
      this.change.change(person.tenant.tenantId, person.userId, person.email, chosen),
    );
    if ('ok' in outcome) {
      const refused = CURRENT_REFUSED[outcome.reason];
      if (refused.status === 429) reply.header('retry-after', '60');
      return this.access.send(reply, refused.status, passwordView(person, returnTo, { error: refused.text }));
    }
    if (!outcome.changed) {
      if ('problems' in outcome) return this.access.send(reply, 400, passwordView(person, returnTo, { problems: outcome.problems }));
      return this.access.send(reply, 401, signedOutView(person.tenant));
    }
    // Answered once login's credentials hold the new hash: the next sign-in, here or elsewhere, takes it.
    if (outcome.position) await this.readModels.waitFor(outcome.position);
    await this.sessions.endOthers(person.tenant, person.userId, person.sessionUid, 'password-changed');
    if (returnTo) return this.continueTo(reply, returnTo);
    return this.access.send(reply, 200, passwordView(person, undefined, { notice: 'account.password.changed' }));
  }

  @Get('email')
  async emailPage(
    @Param('tenant') slug: string,
    @Query('return_to') back: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const person = await this.access.signedInOrAnswered(slug, req, reply);
    if (person) await this.access.send(reply, 200, emailView(person, returnToOf(person.tenant, back)));
  }

  /**
   * Asks to move the account to another address. The address is checked first (a typo costs no
   * attempt), then the current password as on the password page (under the sign-in lock-out: a
   * borrowed session cannot take the account over by moving its address). Then EmailChangeRequested
   * on the account stream: register mails the new address a link and tells the current one, and
   * nothing changes until that link is opened. The page says so and stays, with the way back.
   */
  @Post('email')
  async requestEmailChange(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const person = await this.access.posted(slug, req, reply);
    const returnTo = returnToOf(person.tenant, stringField(req, 'return_to', RETURN_TO_MAX));
    // One past the longest address: sliced, an over-long one stays over-long, never another address.
    const typed = stringField(req, 'new_email', 255);
    const current = stringField(req, 'current_password', PASSWORD_MAX_LENGTH * 2 + 1);
    const newEmail = newAddressOf(typed);
    const answer = (status: number, state: Parameters<typeof emailView>[2]) =>
      this.access.send(reply, status, emailView(person, returnTo, state));
    if (!newEmail) return answer(400, { error: 'account.email.invalid', typed });
    if (newEmail === normaliseEmail(person.email)) return answer(400, { error: 'account.email.same', typed });
    if (current === '') return answer(400, { error: 'account.password.noCurrent', typed });
    // The mails' language: the page's, as it posted it back.
    const locale = wordsFor(
      stringField(req, 'ui_locales', 64),
      req.headers['accept-language'],
      brandLocale(person.tenant.branding, this.access.defaultLocale),
    ).locale;
    const outcome = await this.withCurrentPassword(person, req, current, async () => ({
      requested: await this.emailChanges.request(person.tenant.tenantId, person.userId, newEmail, locale),
    }));
    if ('ok' in outcome) {
      const refused = CURRENT_REFUSED[outcome.reason];
      if (refused.status === 429) reply.header('retry-after', '60');
      return answer(refused.status, { error: refused.text, typed });
    }
    if (outcome.requested === 'gone') return this.access.send(reply, 401, signedOutView(person.tenant));
    return answer(202, { sent: true, typed: newEmail });
  }

  @Get('sessions')
  async sessionsPage(
    @Param('tenant') slug: string,
    @Query('return_to') back: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const person = await this.access.signedInOrAnswered(slug, req, reply);
    if (person) await this.showSessions(reply, person, 200, returnToOf(person.tenant, back));
  }

  /** Ends one of the person's sessions (any, this one included: that is signing out here). */
  @Post('sessions/end')
  async endSession(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const person = await this.access.posted(slug, req, reply);
    const returnTo = returnToOf(person.tenant, stringField(req, 'return_to', RETURN_TO_MAX));
    const uid = stringField(req, 'session', BOUNDS.identifierLength + 1);
    if (uid === '' || textProblem(uid, 'identifier', BOUNDS.identifierLength))
      throw new ProblemError({
        status: 400,
        type: 'validation-failed',
        title: 'Request validation failed',
        detail: 'session is missing or not an id',
      });
    const ended = await this.sessions.end(person.tenant, person.userId, uid);
    if (ended && returnTo && uid !== person.sessionUid) return this.continueTo(reply, returnTo);
    if (uid === person.sessionUid) return this.access.send(reply, 200, signedOutView(person.tenant));
    return this.showSessions(reply, person, ended ? 200 : 404, returnTo, ended ? 'account.sessions.ended' : 'account.sessions.notFound');
  }

  @Post('sessions/end-others')
  async endOtherSessions(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const person = await this.access.posted(slug, req, reply);
    const returnTo = returnToOf(person.tenant, stringField(req, 'return_to', RETURN_TO_MAX));
    const count = await this.sessions.endOthers(person.tenant, person.userId, person.sessionUid);
    if (returnTo) return this.continueTo(reply, returnTo);
    return this.showSessions(reply, person, 200, undefined, 'account.sessions.endedOthers', count);
  }

  private async showSessions(
    reply: FastifyReply,
    person: SignedIn,
    status: number,
    returnTo: ReturnTo,
    notice?: LoginMessageKey,
    count?: number,
  ): Promise<void> {
    const sessions = await this.sessions.list(person.tenant.tenantId, person.userId, person.sessionUid);
    return this.access.send(reply, status, sessionsView(person, sessions, returnTo, { notice, count }));
  }

  /**
   * The current password checked as a sign-in's is (one argon2id verification under the tenant's
   * share of sign-ins, counted by the lock-out), and only then `then`: its refusal, or what `then` answers.
   */
  private withCurrentPassword<T>(
    person: SignedIn,
    req: FastifyRequest,
    current: string,
    then: () => Promise<T>,
  ): Promise<Exclude<SignInOutcome, { ok: true }> | T> {
    return this.signIns.run(
      person.tenant.tenantId,
      async () => {
        const check = await this.passwords.check({
          body: { email: person.email, password: current },
          tenant: person.tenant,
          ip: req.ip,
          clientId: 'account',
        });
        return check.ok ? then() : check;
      },
      'sign-ins',
    );
  }

  private async continueTo(reply: FastifyReply, returnTo: string): Promise<void> {
    await reply.code(303).header('location', returnTo).header('cache-control', 'no-store').send();
  }
}
