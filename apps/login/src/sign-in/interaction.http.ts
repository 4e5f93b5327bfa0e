import { Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionDetails } from 'oidc-provider';
import { brandLocale, escapeHtml, hostedPage, hostedPageHeaders, ProblemError, TenantConcurrencyLimiter, type Locale } from '#platform';
import { brandingOfPage, LoginDirectory, type LoginTenant } from '../directory';
import { DEFAULT_LOCALE, languageField, wordsFor, type LocalisedPage, type LoginMessageKey } from '../messages/messages';
import { PasswordCheck, type SignInOutcome } from './password-check';
import { journeyLink, journeyLinks, JOURNEYS, type Journeys } from './journeys';
import { readSignInForm } from './sign-in-form';
import { badInteraction, finish, formOf, InteractionAccess, sendResumed, type SignInMethod, type SignInPage } from './interaction-access';
import type { ResumeOutcome } from '../oidc/page-resume';
import type { AccountHint } from '../oidc/request-artefacts';
import { SecondFactors } from '../mfa/second-factors';
import { enrolmentView, recoveryCodesView } from '../mfa/account-security.views';
import { hasSecondFactor, type FactorsState } from '../mfa/factors.decider';
import { STEP_UP } from '../oidc/provider-factory';
import { SecondFactorPolicies, stepAfterPassword } from '../mfa/policy';
import { PASSKEY_SCRIPT_PATH, passkeyBlock } from '../mfa/passkey-script';
import { Passkeys } from '../mfa/passkeys';
import {
  continueSignInForm,
  passkeySignInPaths,
  offerOf,
  PASSWORD_ONLY,
  pendingSecondFactorOf,
  SECOND_FACTOR_FAILURE,
  secondFactorAction,
  secondFactorPage,
  WITH_SECOND_FACTOR,
  type PendingSecondFactor,
} from '../mfa/second-factor-step';

export const CSRF_SECRET = Symbol('CsrfSecret');
/** Sign-ins (one argon2id verification each) one tenant may have in flight in this process. */
export const SIGN_IN_LIMITER = Symbol('SignInLimiter');

/** What the sign-in page says about a refused sign-in (keys of the message catalogues, messages/). */
const FAILURE_TEXT: Record<string, LoginMessageKey> = {
  invalid_credentials: 'failure.invalid_credentials',
  locked: 'failure.locked',
  throttled: 'failure.throttled',
  email_unverified: 'failure.email_unverified',
};
const FAILURE_STATUS: Record<string, number> = { invalid_credentials: 401, locked: 429, throttled: 429, email_unverified: 403 };
const BUSY: LoginMessageKey = 'failure.busy';

/**
 * The hosted pages oidc-provider sends people to (interactions.url): sign-in and consent. Plain
 * HTML forms; each carries a CSRF token bound to the interaction, and the interaction itself is
 * bound to the browser by oidc-provider's signed interaction cookie.
 */
@Controller('t/:tenant/interaction/:uid')
export class InteractionController {
  constructor(
    private readonly directory: LoginDirectory,
    private readonly access: InteractionAccess,
    private readonly passwords: PasswordCheck,
    @Inject(SIGN_IN_LIMITER) private readonly signIns: TenantConcurrencyLimiter,
    @Inject(JOURNEYS) private readonly journeys: Journeys,
    private readonly factors: SecondFactors,
    private readonly policies: SecondFactorPolicies,
    @Inject(DEFAULT_LOCALE) private readonly defaultLocale: Locale,
    private readonly passkeys: Passkeys,
  ) {}

  @Get()
  async show(
    @Param('tenant') slug: string,
    @Param('uid') uid: string,
    @Query('prompt') prompt: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (prompt === 'login') {
      // The empty form needs nothing stored: the signed interaction cookie proves this browser
      // started the interaction. The post reads it (expired, finished, or not a sign-in: refused).
      const { tenant } = await this.access.startedHere(slug, uid, req, reply);
      return this.send(reply, 200, this.signInPage(tenant, uid));
    }
    const { tenant, details } = await this.interaction(slug, uid, req, reply);
    // Back from one of register's pages, say: the authorization's own ui_locales, the link carrying none.
    const uiLocales = details.params.ui_locales;
    if (details.prompt.name === 'login') {
      const reasons = details.prompt.reasons;
      const accountId = details.session?.accountId;
      if (accountId && reasons.length > 0 && reasons.every((reason) => reason === STEP_UP))
        return this.stepUp(reply, tenant, details, accountId);
      return this.send(reply, 200, this.signInPage(tenant, uid), uiLocales);
    }
    if (details.prompt.name === 'create') {
      // prompt=create: register's sign-up page, which links back to signed-up below.
      const { locale } = wordsFor(uiLocales, req.headers['accept-language'], this.defaultLocale);
      const signUp = journeyLink(this.journeys, tenant.slug, 'sign-up', `interaction/${encodeURIComponent(uid)}/signed-up`, locale);
      const to = signUp ?? (await finish(details, { create: { shown: false } }, true));
      return void (await reply.code(303).header('location', to).header('cache-control', 'no-store').send());
    }
    return this.send(reply, 200, this.consentPage(tenant, details), uiLocales);
  }

  /**
   * Back from the sign-up page that prompt=create led to (signed up, or chose to sign in): the
   * create prompt is done, and the authorization goes on to sign-in. Nothing is trusted from the
   * way back: it only moves this browser's own interaction past a page it was shown.
   */
  @Get('signed-up')
  async signedUp(@Param('tenant') slug: string, @Param('uid') uid: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const { details } = await this.interaction(slug, uid, req, reply);
    if (details.prompt.name !== 'create') throw badInteraction('this interaction does not ask for a sign-up');
    const to = await finish(details, { create: { shown: true } }, true);
    await reply.code(303).header('location', to).header('cache-control', 'no-store').send();
  }

  @Post('login')
  async signIn(
    @Param('tenant') slug: string,
    @Param('uid') uid: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const body = formOf(req);
    const form = readSignInForm(body);
    // The person the address names, if it is right, signs in: their latest grant comes with the interaction.
    const { tenant, details, factorsRead } = await this.interaction(slug, uid, req, reply, (at) =>
      form.ok ? { emailIndex: this.passwords.accountKeyOf(at.tenantId, form.email), decidesSecondFactor: true } : {},
    );
    this.requireCsrf(tenant, uid, body);
    if (details.prompt.name !== 'login') throw badInteraction('this interaction does not ask for a sign-in');
    if (!form.ok) return this.send(reply, form.status, this.signInPage(tenant, uid, form.message, form.email));
    const clientId = String(details.params.client_id ?? '');
    const outcome = await this.checkFairly(tenant, { body: { email: form.email, password: form.password }, tenant, ip: req.ip, clientId });
    if (outcome === 'busy') {
      reply.header('retry-after', '1');
      return this.send(reply, 429, this.signInPage(tenant, uid, BUSY, form.email));
    }
    if (!outcome.ok) {
      return this.send(
        reply,
        FAILURE_STATUS[outcome.reason] ?? 401,
        this.signInPage(tenant, uid, FAILURE_TEXT[outcome.reason], form.email),
      );
    }
    const userId = outcome.credential.userId;
    const who = { accountId: userId, accountKey: outcome.accountKey, clientId };
    // Whether a second factor is due, as the store held the person's factors when this post read its
    // interaction (when that read could say): a factor enrolled after it is one this sign-in began without.
    const current = factorsRead?.accountId === userId ? factorsRead.revision : undefined;
    const [policy, factors] = await Promise.all([this.policies.of(tenant.tenantId), this.factors.state(tenant.tenantId, userId, current)]);
    const step = stepAfterPassword(policy, hasSecondFactor(factors), clientId, details.params.acr_values);
    // Whether the authorization resumes now or after the second step (a code or a passkey, seconds
    // later), its findAccount asks for this person: the credential just read waits for it.
    this.directory.handOver(tenant.tenantId, outcome.credential);
    if (step === 'done') return this.complete({ req, reply }, tenant, details, who, PASSWORD_ONLY);
    // The password is right; the sign-in completes once the second factor is, on this interaction.
    return this.askSecondFactor(reply, tenant, details, who, factors, step === 'enrol', outcome.credential.email);
  }

  /**
   * The second step, on this interaction, of a person known already: after a right password, or
   * for a session that signed in without a second factor the client or the tenant now wants (a
   * step-up: no password asked again). A person without one sets one up first (`enrol`).
   */
  private async askSecondFactor(
    reply: FastifyReply,
    tenant: LoginTenant,
    details: InteractionDetails,
    who: Omit<PendingSecondFactor, 'stage'>,
    factors: FactorsState,
    enrol: boolean,
    email: string,
  ): Promise<void> {
    const { uid } = details;
    const started = enrol ? await this.factors.startTotp(tenant.tenantId, who.accountId) : undefined;
    const passkeys = factors.passkeys.length > 0;
    const codes = factors.totp !== null;
    details.result = { secondFactor: { ...who, stage: enrol ? 'enrol' : 'code', passkeys, codes } satisfies PendingSecondFactor };
    await details.persist();
    if (!enrol)
      return this.send(reply, 200, secondFactorPage(tenant, uid, this.csrfToken(tenant, uid), undefined, offerOf({ passkeys, codes })));
    const enrolment = started && 'secret' in started ? { secret: started.secret, account: email } : undefined;
    return this.enrolmentPage(reply, tenant, uid, who.accountId, enrolment);
  }

  /**
   * A session that signed in with a password alone, at an authorization that wants a second factor
   * (acr_values, or the tenant's policy for this client): the person is the session's, so only the
   * second step is asked, and the ID token then says so (amr with otp or hwk, acr mfa).
   */
  private async stepUp(reply: FastifyReply, tenant: LoginTenant, details: InteractionDetails, accountId: string): Promise<void> {
    const credential = await this.directory.credentialById(tenant.tenantId, accountId);
    if (!credential) return this.send(reply, 200, this.signInPage(tenant, details.uid), details.params.ui_locales);
    const pending = pendingSecondFactorOf(details);
    // Shown again (a reload): the step already asked for goes on, rather than a new key or another event.
    if (pending?.stage === 'code')
      return this.send(reply, 200, secondFactorPage(tenant, details.uid, this.csrfToken(tenant, details.uid), undefined, offerOf(pending)));
    if (pending?.stage === 'enrol') return this.enrolmentPage(reply, tenant, details.uid, accountId);
    const who = {
      accountId,
      accountKey: this.passwords.accountKeyOf(tenant.tenantId, credential.email),
      clientId: String(details.params.client_id ?? ''),
    };
    const factors = await this.factors.state(tenant.tenantId, accountId);
    return this.askSecondFactor(reply, tenant, details, who, factors, !hasSecondFactor(factors), credential.email);
  }

  /** The code of the person's authenticator app or a recovery code; or, while enrolling, the app's first code. */
  @Post('second-factor')
  async secondFactor(
    @Param('tenant') slug: string,
    @Param('uid') uid: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const body = formOf(req);
    // The person at the second step, the interaction names: their latest grant comes with it.
    const { tenant, details } = await this.interaction(slug, uid, req, reply, () => ({}));
    this.requireCsrf(tenant, uid, body);
    const pending = pendingSecondFactorOf(details);
    if (details.prompt.name !== 'login' || !pending) throw badInteraction('this interaction awaits no second factor');
    if (pending.stage === 'enrolled') return this.complete({ req, reply }, tenant, details, pending, WITH_SECOND_FACTOR);
    const code = typeof body.code === 'string' ? body.code.slice(0, 64) : '';
    if (pending.stage === 'enrol') {
      const confirmed = await this.factors.confirmTotp(tenant.tenantId, pending.accountId, code);
      if (!('recoveryCodes' in confirmed))
        return this.enrolmentPage(reply, tenant, uid, pending.accountId, undefined, SECOND_FACTOR_FAILURE.wrong);
      details.result = { secondFactor: { ...pending, stage: 'enrolled' } };
      await details.persist();
      const next = continueSignInForm(tenant, uid, this.csrfToken(tenant, uid));
      return this.send(reply, 200, recoveryCodesView(tenant, confirmed.recoveryCodes, next));
    }
    // A right code is stored in the sign-in's own statement: the code counts as used exactly when the sign-in stands.
    let resumed: ResumeOutcome | undefined;
    const check = await this.factors.verify(tenant.tenantId, pending.accountId, code, async (append) => {
      const completed = await this.access.completeWith({ req, reply }, tenant, details, pending, WITH_SECOND_FACTOR, append);
      resumed = completed.resumed;
      return completed.stored!;
    });
    if (!check.ok) {
      const status = check.reason === 'locked' ? 429 : 401;
      const page = secondFactorPage(tenant, uid, this.csrfToken(tenant, uid), SECOND_FACTOR_FAILURE[check.reason], offerOf(pending));
      return this.send(reply, status, page);
    }
    await sendResumed(reply, resumed!);
  }

  /**
   * The enrolment a required second factor asks for during sign-in: the key just started (given), or
   * the one pending on the person's factors when the page is shown again.
   */
  private async enrolmentPage(
    reply: FastifyReply,
    tenant: LoginTenant,
    uid: string,
    accountId: string,
    known?: { readonly secret: string; readonly account: string },
    error?: LoginMessageKey,
  ): Promise<void> {
    const secret = known?.secret ?? (await this.factors.pendingSecret(tenant.tenantId, accountId));
    const account = known?.account ?? (await this.directory.credentialById(tenant.tenantId, accountId))?.email;
    if (!secret || !account) throw badInteraction('the enrolment of this sign-in is gone; start again');
    const csrf = this.csrfToken(tenant, uid);
    const form = {
      siteName: tenant.name,
      brand: tenant.branding,
      account,
      action: secondFactorAction(tenant, uid),
      csrf,
      required: true,
    };
    return this.send(reply, error ? 400 : 200, await enrolmentView(form, secret, error));
  }

  private async complete(
    page: SignInPage,
    tenant: LoginTenant,
    details: InteractionDetails,
    who: Omit<PendingSecondFactor, 'stage'>,
    how: SignInMethod,
  ): Promise<void> {
    await sendResumed(page.reply, await this.access.complete(page, tenant, details, who, how));
  }

  @Post('consent')
  async consent(
    @Param('tenant') slug: string,
    @Param('uid') uid: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const body = formOf(req);
    const { tenant, details, provider } = await this.interaction(slug, uid, req, reply);
    this.requireCsrf(tenant, uid, body);
    if (details.prompt.name !== 'consent' || !details.session?.accountId) throw badInteraction('this interaction does not ask for consent');
    if (body.decision !== 'allow') {
      const to = await finish(details, { error: 'access_denied', error_description: 'the person declined' }, false);
      return void (await reply.code(303).header('location', to).send());
    }
    const grant = details.grantId
      ? await (provider.Grant as unknown as { find(id: string): Promise<InstanceType<typeof provider.Grant>> }).find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: String(details.params.client_id) });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
      grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    const to = await finish(details, { consent: { grantId } }, true);
    await reply.code(303).header('location', to).header('cache-control', 'no-store').send();
  }

  /**
   * The password check within the tenant's share of sign-ins in flight: argon2id runs on libuv's
   * few threads, and one tenant's flood must leave them for the others. Past its share the tenant
   * gets the page again with 429 and Retry-After; nothing is checked or counted against the account.
   */
  private async checkFairly(tenant: LoginTenant, attempt: Parameters<PasswordCheck['check']>[0]): Promise<SignInOutcome | 'busy'> {
    try {
      return await this.signIns.run(tenant.tenantId, () => this.passwords.check(attempt), 'sign-ins');
    } catch (error) {
      if (error instanceof ProblemError && error.status === 429) return 'busy';
      throw error;
    }
  }

  private interaction(
    slug: string,
    uid: string,
    req: FastifyRequest,
    reply: FastifyReply,
    signingIn?: (tenant: LoginTenant) => AccountHint,
  ) {
    return this.access.interaction(slug, uid, req, reply, signingIn);
  }

  private csrfToken(tenant: LoginTenant, uid: string): string {
    return this.access.csrfToken(tenant, uid);
  }

  private requireCsrf(tenant: LoginTenant, uid: string, body: Record<string, unknown>): void {
    this.access.requireCsrf(tenant, uid, body);
  }

  private signInPage(tenant: LoginTenant, uid: string, error?: LoginMessageKey, email = ''): LocalisedPage {
    const base = `/t/${encodeURIComponent(tenant.slug)}/interaction/${encodeURIComponent(uid)}`;
    const csrf = this.csrfToken(tenant, uid);
    return (words) =>
      hostedPage({
        siteName: tenant.name,
        brand: tenant.branding,
        title: words.say('signIn.title'),
        lang: words.locale,
        scripts: [PASSKEY_SCRIPT_PATH],
        // autocomplete "webauthn" on the e-mail field: where the browser offers passkeys as autofill (conditional UI).
        body: `${error ? `<p class="error" role="alert">${words.sayHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(base)}/login" autocomplete="on">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${languageField(words)}
<label for="email">${words.sayHtml('field.email')}</label><input id="email" name="email" type="email" autocomplete="username webauthn" required autofocus value="${escapeHtml(email)}">
<label for="password">${words.sayHtml('field.password')}</label><input id="password" name="password" type="password" required>
<button type="submit">${words.sayHtml('signIn.submit')}</button>
</form>${passkeyBlock({
          mode: 'sign-in',
          ...passkeySignInPaths(tenant, uid, 'first'),
          request: this.passkeys.signInPageOptions(tenant.tenantId, uid),
          csrf,
          label: words.sayHtml('passkey.signIn'),
          failed: words.sayHtml('passkey.failed'),
        })}${journeyLinks(this.journeys, tenant.slug, uid, words)}`,
      });
  }

  private consentPage(tenant: LoginTenant, details: InteractionDetails): LocalisedPage {
    const base = `/t/${encodeURIComponent(tenant.slug)}/interaction/${encodeURIComponent(details.uid)}`;
    const scopes = String(details.params.scope ?? '')
      .split(' ')
      .filter(Boolean);
    return (words) =>
      hostedPage({
        siteName: tenant.name,
        brand: tenant.branding,
        title: words.say('consent.title'),
        lang: words.locale,
        body: `<p>${words.sayHtml('consent.asks', { client: `<strong>${escapeHtml(details.params.client_id)}</strong>` })}</p>
<ul>${scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>
<form method="post" action="${escapeHtml(base)}/consent">
<input type="hidden" name="csrf" value="${escapeHtml(this.csrfToken(tenant, details.uid))}">${languageField(words)}
<button type="submit" name="decision" value="allow">${words.sayHtml('consent.allow')}</button>
<button type="submit" name="decision" value="deny">${words.sayHtml('consent.deny')}</button>
</form>`,
      });
  }

  /**
   * A page in the language of this request: the authorization's ui_locales (read with the
   * interaction, or from the query oidc-provider sends the browser to, then from the page's
   * forms), else Accept-Language, else the tenant's default language, else the installation's.
   */
  private async send(reply: FastifyReply, status: number, page: LocalisedPage, authorizationUiLocales?: unknown): Promise<void> {
    const request = reply.request;
    const uiLocales =
      authorizationUiLocales ?? (request.query as Record<string, unknown> | undefined)?.ui_locales ?? formOf(request).ui_locales;
    const branding = await brandingOfPage(this.directory, request);
    const words = wordsFor(uiLocales, request.headers['accept-language'], brandLocale(branding, this.defaultLocale));
    // The sign-in and second-factor pages load the passkey script (script-src 'self', and its requests: connect-src 'self'); no page here has another.
    await reply
      .code(status)
      .headers(hostedPageHeaders({ scripts: true, fetches: true, brand: branding }))
      .send(page(words));
  }
}
