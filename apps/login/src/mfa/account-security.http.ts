import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { Controller, Get, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hostedPageHeaders, ProblemError } from '#platform';
import { LoginDirectory, type LoginTenant } from '../directory';
import { ProviderCache } from '../oidc/provider-cache';
import { CSRF_SECRET } from '../sign-in/interaction.http';
import * as views from './account-security.views';
import { SecondFactors } from './second-factors';
import { SECOND_FACTOR_FAILURE } from './second-factor-step';

interface SignedIn {
  readonly tenant: LoginTenant;
  readonly userId: string;
  readonly email: string;
  readonly csrf: string;
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
    @Inject(CSRF_SECRET) csrfSecret: Buffer,
  ) {
    this.csrfKey = createSecretKey(csrfSecret);
  }

  @Get()
  async show(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.signedIn(slug, req, reply);
    if (!person) return send(reply, 401, views.signedOutView(await this.tenantOf(slug)));
    const state = await this.factors.state(person.tenant.tenantId, person.userId);
    if (state.totp)
      return send(reply, 200, views.securityView(person, { enrolled: true, recoveryCodesLeft: state.recoveryCodeHashes.length }));
    if (state.pendingSecret) return send(reply, 200, await views.enrolmentView(views.enrolmentFormOf(person), state.pendingSecret));
    return send(reply, 200, views.securityView(person, { enrolled: false }));
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
      return send(reply, 200, views.recoveryCodesView(person.tenant.name, confirmed.recoveryCodes, views.backToSecurity(person)));
    const secret = await this.factors.pendingSecret(person.tenant.tenantId, person.userId);
    if (!secret)
      return reply
        .code(303)
        .header('location', `/t/${encodeURIComponent(person.tenant.slug)}/account/security`)
        .send();
    return send(reply, 400, await views.enrolmentView(views.enrolmentFormOf(person), secret, SECOND_FACTOR_FAILURE.wrong));
  }

  @Post('totp/remove')
  async removeTotp(@Param('tenant') slug: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const person = await this.posted(slug, req, reply);
    const removed = await this.factors.remove(person.tenant.tenantId, person.userId, codeOf(req));
    if (removed.ok) return send(reply, 200, views.securityView(person, { enrolled: false, notice: 'Your authenticator app is removed.' }));
    const state = await this.factors.state(person.tenant.tenantId, person.userId);
    const status = removed.reason === 'locked' ? 429 : 400;
    return send(
      reply,
      status,
      views.securityView(person, {
        enrolled: state.totp !== null,
        recoveryCodesLeft: state.recoveryCodeHashes.length,
        error: SECOND_FACTOR_FAILURE[removed.reason],
      }),
    );
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
    return { tenant, userId: credential.userId, email: credential.email, csrf };
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

function codeOf(req: FastifyRequest): string {
  const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  return typeof body.code === 'string' ? body.code.slice(0, 64) : '';
}

async function send(reply: FastifyReply, status: number, html: string): Promise<void> {
  await reply.code(status).headers(hostedPageHeaders()).send(html);
}
