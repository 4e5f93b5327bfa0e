import { Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BOUNDS, parseBody, ProblemError, textProblem } from '#platform';
import { AccountAccess, stringField, type SignedIn } from '../account/account-access';
import type { LocalisedPage } from '../messages/messages';
import * as views from './account-security.views';
import { passkeyRegistrationBody, Passkeys } from './passkeys';
import { SecondFactors } from './second-factors';
import { SECOND_FACTOR_FAILURE } from './second-factor-step';

/**
 * The signed-in person's security page: set up an authenticator app (QR code or key, confirmed by
 * a code, recovery codes shown once) or remove it (with a current code). Behind the browser's
 * session at this tenant (oidc-provider's session cookie, scoped to /t/{tenant}); forms carry a
 * CSRF token bound to that session.
 */
@Controller('t/:tenant/account/security')
export class AccountSecurityController {
  constructor(
    private readonly access: AccountAccess,
    private readonly factors: SecondFactors,
    private readonly passkeys: Passkeys,
  ) {}

  @Get()
  async show(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.access.signedInOrAnswered(slug, req, reply);
    if (!person) return;
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

  private send(reply: FastifyReply, status: number, page: LocalisedPage): Promise<void> {
    return this.access.send(reply, status, page);
  }

  private posted(slug: string, req: FastifyRequest, reply: FastifyReply): Promise<SignedIn> {
    return this.access.posted(slug, req, reply);
  }
}

/** The session a passkey registration's challenge belongs to (passkey-challenges.ts). */
const bindingOf = (person: SignedIn) => `account:${person.sessionUid}`;

const codeOf = (req: FastifyRequest): string => stringField(req, 'code', 64);
