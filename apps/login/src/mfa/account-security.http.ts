import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { Controller, Get, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BOUNDS, brandLocale, hostedPageHeaders, parseBody, ProblemError, textProblem, type Branding, type Locale } from '#platform';
import { brandingOfPage, LoginDirectory, type LoginTenant } from '../directory';
import { DEFAULT_LOCALE, wordsFor, type LocalisedPage } from '../messages/messages';
import { ProviderCache } from '../oidc/provider-cache';
import { CSRF_SECRET } from '../sign-in/interaction.http';
import * as views from './account-security.views';
import { passkeyRegistrationBody, Passkeys } from './passkeys';
import { SecondFactors } from './second-factors';
import { SECOND_FACTOR_FAILURE } from './second-factor-step';

interface SignedIn {
  readonly tenant: LoginTenant;
  readonly userId: string;
  readonly email: string;
  readonly csrf: string;
  /** The session's uid: what a passkey registration's challenge is bound to. */
  readonly sessionUid: string;
}

/**
 * The signed-in person's security page: set up an authenticator app (QR code or key, confirmed by
 * a code, recovery codes shown once) or remove it (with a current code). Behind the browser's
 * session at this tenant (oidc-provider's session cookie, scoped to /t/{tenant}); forms carry a
 * CSRF token bound to that session.
 */
@Controller('t/:tenant/account/security')
export class AccountSecurityController {
  private readonly csrfKey: KeyObject;

  constructor(
    private readonly directory: LoginDirectory,
    private readonly providers: ProviderCache,
    private readonly factors: SecondFactors,
    private readonly passkeys: Passkeys,
    @Inject(CSRF_SECRET) csrfSecret: Buffer,
    @Inject(DEFAULT_LOCALE) private readonly defaultLocale: Locale,
  ) {
    this.csrfKey = createSecretKey(csrfSecret);
  }

  @Get()
  async show(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.signedIn(slug, req, reply);
    if (!person) return this.send(reply, 401, views.signedOutView(await this.tenantOf(slug)));
    const state = await this.factors.state(person.tenant.tenantId, person.userId);
    const { passkeys } = state;
    if (state.totp)
      return this.send(
        reply,
        200,
        views.securityView(person, { enrolled: true, recoveryCodesLeft: state.recoveryCodeHashes.length, passkeys }),
      );
    if (state.pendingSecret) return this.send(reply, 200, await views.enrolmentView(views.enrolmentFormOf(person), state.pendingSecret));
    return this.send(reply, 200, views.securityView(person, { enrolled: false, passkeys }));
  }

  @Post('totp')
  async startTotp(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.posted(slug, req, reply);
    await this.factors.startTotp(person.tenant.tenantId, person.userId);
    await reply
      .code(303)
      .header('location', `/t/${encodeURIComponent(person.tenant.slug)}/account/security`)
      .send();
  }

  @Post('totp/confirm')
  async confirmTotp(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.posted(slug, req, reply);
    const confirmed = await this.factors.confirmTotp(person.tenant.tenantId, person.userId, codeOf(req));
    if ('recoveryCodes' in confirmed)
      return this.send(reply, 200, views.recoveryCodesView(person.tenant, confirmed.recoveryCodes, views.backToSecurity(person)));
    const secret = await this.factors.pendingSecret(person.tenant.tenantId, person.userId);
    if (!secret)
      return reply
        .code(303)
        .header('location', `/t/${encodeURIComponent(person.tenant.slug)}/account/security`)
        .send();
    return this.send(reply, 400, await views.enrolmentView(views.enrolmentFormOf(person), secret, SECOND_FACTOR_FAILURE.wrong));
  }

  @Post('totp/remove')
  async removeTotp(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.posted(slug, req, reply);
    const removed = await this.factors.remove(person.tenant.tenantId, person.userId, codeOf(req));
    const state = await this.factors.state(person.tenant.tenantId, person.userId);
    if (removed.ok)
      return this.send(reply, 200, views.securityView(person, { enrolled: false, notice: 'security.removed', passkeys: state.passkeys }));
    const status = removed.reason === 'locked' ? 429 : 400;
    return this.send(
      reply,
      status,
      views.securityView(person, {
        enrolled: state.totp !== null,
        recoveryCodesLeft: state.recoveryCodeHashes.length,
        error: SECOND_FACTOR_FAILURE[removed.reason],
        passkeys: state.passkeys,
      }),
    );
  }

  /** Options for the browser's navigator.credentials.create(), for the page's script; the challenge is bound to this session. */
  @Post('passkeys/options')
  @HttpCode(200)
  async passkeyOptions(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.posted(slug, req, reply);
    const options = await this.passkeys.registrationOptions(person.tenant, person, bindingOf(person));
    await reply.code(200).header('cache-control', 'no-store').send(options);
  }

  /** The browser's attestation (JSON): verified against the session's challenge, then registered under the name given. */
  @Post('passkeys')
  async registerPasskey(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.posted(slug, req, reply);
    const body = parseBody(passkeyRegistrationBody, req.body);
    const registered = await this.passkeys.register(person.tenant.tenantId, person.userId, bindingOf(person), body);
    if (registered.ok) return void (await reply.code(201).header('cache-control', 'no-store').send({ name: body.name }));
    const conflict = registered.reason === 'PasskeyAlreadyRegistered' || registered.reason === 'TooManyPasskeys';
    throw new ProblemError({
      status: conflict ? 409 : 400,
      type: conflict ? 'passkey-not-registered' : 'passkey-challenge-missing',
      title: 'The passkey was not registered',
      detail:
        registered.reason === 'PasskeyAlreadyRegistered'
          ? 'this passkey is registered already'
          : registered.reason === 'TooManyPasskeys'
            ? 'remove a passkey before adding another'
            : 'no passkey registration is outstanding for this session (it was used or has expired); ask for one again',
    });
  }

  @Post('passkeys/remove')
  async removePasskey(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.posted(slug, req, reply);
    const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
    const credentialId = typeof body.credentialId === 'string' ? body.credentialId : '';
    if (credentialId === '' || textProblem(credentialId, 'identifier', BOUNDS.identifierLength))
      throw new ProblemError({
        status: 400,
        type: 'validation-failed',
        title: 'Request validation failed',
        detail: 'credentialId is missing or not an id',
      });
    const removed = await this.passkeys.remove(person.tenant.tenantId, person.userId, credentialId);
    const state = await this.factors.state(person.tenant.tenantId, person.userId);
    const page = views.securityView(person, {
      enrolled: state.totp !== null,
      recoveryCodesLeft: state.recoveryCodeHashes.length,
      passkeys: state.passkeys,
      ...(removed ? { notice: 'passkey.removed' as const } : {}),
    });
    return this.send(reply, removed ? 200 : 404, page);
  }

  private async send(reply: FastifyReply, status: number, page: LocalisedPage): Promise<void> {
    return send(reply, status, page, this.defaultLocale, await brandingOfPage(this.directory, reply.request));
  }

  private async tenantOf(slug: string): Promise<LoginTenant> {
    const tenant = await this.directory.tenantBySlug(slug);
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    return tenant;
  }

  private async signedIn(slug: string, req: FastifyRequest, reply: FastifyReply): Promise<SignedIn | undefined> {
    const tenant = await this.tenantOf(slug);
    const provider = await this.providers.get(tenant);
    const session = await provider.Session.get(provider.createContext(req.raw, reply.raw));
    if (!session.accountId) return undefined;
    const credential = await this.directory.credentialById(tenant.tenantId, session.accountId);
    if (!credential) return undefined;
    const csrf = createHmac('sha256', this.csrfKey).update(`${tenant.tenantId}|account|${session.uid}`).digest('base64url');
    return { tenant, userId: credential.userId, email: credential.email, csrf, sessionUid: session.uid };
  }

  private async posted(slug: string, req: FastifyRequest, reply: FastifyReply): Promise<SignedIn> {
    const person = await this.signedIn(slug, req, reply);
    const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
    const presented = Buffer.from(typeof body.csrf === 'string' ? body.csrf : '');
    const expected = Buffer.from(person?.csrf ?? '');
    if (!person || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new ProblemError({
        status: 403,
        type: 'csrf-token-invalid',
        title: 'Form token missing or wrong',
        detail: 'reload the page, signed in, and submit the form again',
      });
    }
    return person;
  }
}

/** The session a passkey registration's challenge belongs to (passkey-challenges.ts). */
const bindingOf = (person: SignedIn) => `account:${person.sessionUid}`;

function codeOf(req: FastifyRequest): string {
  const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  return typeof body.code === 'string' ? body.code.slice(0, 64) : '';
}

/**
 * A page in the browser's language: `ui_locales` in the address, else Accept-Language, else the
 * tenant's default language, else the installation's; in the tenant's look.
 */
async function send(reply: FastifyReply, status: number, page: LocalisedPage, defaultLocale: Locale, branding?: Branding): Promise<void> {
  const request = reply.request;
  const words = wordsFor(
    (request.query as Record<string, unknown> | undefined)?.ui_locales,
    request.headers['accept-language'],
    brandLocale(branding, defaultLocale),
  );
  // The security page loads the passkey script (script-src 'self', and its requests: connect-src 'self'); the others have none.
  await reply
    .code(status)
    .headers(hostedPageHeaders({ scripts: true, fetches: true, brand: branding }))
    .send(page(words));
}
