import { Controller, Get, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { brandLocale, hostedPageHeaders, negotiateLocale, parseBody, ProblemError, RequestValidationError } from '#platform';
import { callerOf, TenantAccess } from '../access/tenant-access';
import { PasswordResetFlow } from '../password-reset/password-reset.flow';
import { sayIn, type RegisterMessageKey, type Say } from '../messages/messages';
import { REGISTER_SETTINGS, type RegisterSettings } from '../register.ports';
import { emailAddress, mailedToken } from '../register.schemas';
import { weakPasswordReason, WeakPasswordError } from '../sign-up/password';
import { SignUpFlow } from '../sign-up/sign-up.flow';
import { VerificationFlow } from '../verification/verification.flow';
import { EmailChangeFlow } from '../email-change/email-change.flow';
import * as views from './journey-views';
import { PAGE_FORMS, PageForms } from './page-forms';

const signUpForm = z.object({ email: emailAddress, password: z.string() });
const emailForm = z.object({ email: emailAddress });
const tokenForm = z.object({ token: mailedToken });
const resetForm = z.object({ token: mailedToken, password: z.string() });

/** A refused field in the page's words: its label, and why in general (the flows' reasons are the API's, in English). */
const FIELDS: Record<string, { readonly name: RegisterMessageKey; readonly reason: RegisterMessageKey }> = {
  '/email': { name: 'field.email', reason: 'refused.email' },
  '/password': { name: 'field.password', reason: 'refused.password' },
  '/token': { name: 'field.token', reason: 'refused.token' },
};

/**
 * The hosted pages of the journeys register's mails and login's sign-in page lead to: sign-up,
 * the mailed verification and reset links, forgot password. Plain server-rendered forms that work
 * without JavaScript, over the same flows as the API (rules, request limits, events); a refusal is
 * the page again with what is wrong, under the API's status code.
 */
@Controller('t/:tenant')
export class JourneyPagesController {
  constructor(
    private readonly access: TenantAccess,
    private readonly signUps: SignUpFlow,
    private readonly verifications: VerificationFlow,
    private readonly resets: PasswordResetFlow,
    private readonly emailChanges: EmailChangeFlow,
    @Inject(PAGE_FORMS) private readonly forms: PageForms,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
  ) {}

  @Get('sign-up')
  async signUpPage(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const context = await this.context(slug, request, reply, queryOf(request));
    return send(reply, 200, views.signUpView(context));
  }

  @Post('sign-up')
  async signUp(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { tenant, context, form } = await this.posted(slug, request, reply);
    const email = typeof form.email === 'string' ? form.email : '';
    try {
      const input = parseBody(signUpForm, form);
      await this.signUps.signUp(tenant, callerOf(request), input, context.locale);
      return send(reply, 201, views.signedUpView(context));
    } catch (error) {
      return refused(reply, error, context.say, (message) => views.signUpView(context, { email, error: message }));
    }
  }

  @Get('verify-email')
  async verifyPage(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const query = queryOf(request);
    const context = await this.context(slug, request, reply, query);
    return send(reply, 200, views.verifyView(context, { token: typeof query.token === 'string' ? query.token : '' }));
  }

  @Post('verify-email')
  async verify(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { tenant, context, form } = await this.posted(slug, request, reply);
    try {
      const { token } = parseBody(tokenForm, form);
      await this.verifications.verify(tenant, callerOf(request), token);
      return send(reply, 200, views.verifiedView(context));
    } catch (error) {
      if (isTokenProblem(error)) return send(reply, error.status, views.verificationFailedView(context, tokenFailure(error, context.say)));
      return refused(reply, error, context.say, (message) => views.verifyView(context, { error: message }));
    }
  }

  @Post('verify-email/new-link')
  async newVerificationLink(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { tenant, context, form } = await this.posted(slug, request, reply);
    try {
      await this.verifications.requestLink(tenant, callerOf(request), parseBody(emailForm, form).email, context.locale);
      return send(reply, 202, views.linkRequestedView(context, 'verification'));
    } catch (error) {
      return refused(reply, error, context.say, (message) => views.verificationFailedView(context, message));
    }
  }

  @Get('forgot-password')
  async forgotPage(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const context = await this.context(slug, request, reply, queryOf(request));
    return send(reply, 200, views.forgotPasswordView(context));
  }

  @Post('forgot-password')
  async forgot(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { tenant, context, form } = await this.posted(slug, request, reply);
    const email = typeof form.email === 'string' ? form.email : '';
    try {
      await this.resets.request(tenant, callerOf(request), parseBody(emailForm, form).email, context.locale);
      return send(reply, 202, views.linkRequestedView(context, 'reset'));
    } catch (error) {
      return refused(reply, error, context.say, (message) => views.forgotPasswordView(context, { email, error: message }));
    }
  }

  @Get('reset-password')
  async resetPage(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const query = queryOf(request);
    const context = await this.context(slug, request, reply, query);
    return send(reply, 200, views.resetPasswordView(context, { token: typeof query.token === 'string' ? query.token : '' }));
  }

  @Post('reset-password')
  async reset(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { tenant, context, form } = await this.posted(slug, request, reply);
    const token = typeof form.token === 'string' ? form.token : '';
    try {
      const input = parseBody(resetForm, form);
      await this.resets.confirm(tenant, callerOf(request), input.token, input.password);
      return send(reply, 200, views.passwordChangedView(context));
    } catch (error) {
      const message = isTokenProblem(error) ? tokenFailure(error, context.say) : undefined;
      return refused(reply, error, context.say, (fallback) => views.resetPasswordView(context, { token, error: message ?? fallback }));
    }
  }

  @Get('confirm-email-change')
  async confirmEmailChangePage(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const query = queryOf(request);
    const context = await this.context(slug, request, reply, query);
    return send(reply, 200, views.confirmEmailChangeView(context, { token: typeof query.token === 'string' ? query.token : '' }));
  }

  /** The mailed link of a change of address: a refused link, or an address another account took meanwhile, says so. */
  @Post('confirm-email-change')
  async confirmEmailChange(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { tenant, context, form } = await this.posted(slug, request, reply);
    const startAgain = this.forms.emailChangePage(tenant.slug);
    try {
      const { token } = parseBody(tokenForm, form);
      await this.emailChanges.confirm(tenant, callerOf(request), token);
      return send(reply, 200, views.emailChangedView(context));
    } catch (error) {
      if (isTokenProblem(error))
        return send(reply, error.status, views.emailChangeFailedView(context, tokenFailure(error, context.say), startAgain));
      if (error instanceof ProblemError && error.type === 'email-taken')
        return send(reply, 409, views.emailChangeFailedView(context, context.say('emailChangeFailed.taken'), startAgain));
      return refused(reply, error, context.say, (message) => views.confirmEmailChangeView(context, { error: message }));
    }
  }

  /**
   * What the page carries on: its form token, where to continue, and its language: the link's or
   * form's `ui_locales` (login's sign-in page passes its own on), else the browser's
   * Accept-Language, else the tenant's default language, else the installation's.
   */
  private async context(
    slug: string,
    request: FastifyRequest,
    reply: FastifyReply,
    sent: Record<string, unknown>,
  ): Promise<views.JourneyContext> {
    const tenant = await this.access.tenant(slug);
    const locale = negotiateLocale(
      sent.ui_locales,
      request.headers['accept-language'],
      brandLocale(tenant.branding, this.settings.defaultLocale),
    );
    return {
      tenantName: tenant.name,
      brand: tenant.branding,
      tenantSlug: tenant.slug,
      csrf: this.forms.tokenFor(request, reply, tenant.slug),
      continueTo: this.forms.continueTo(tenant.slug, sent.return_to),
      locale,
      say: sayIn(locale),
    };
  }

  /** A posted form of this browser, its CSRF token checked before anything else is read. */
  private async posted(slug: string, request: FastifyRequest, reply: FastifyReply) {
    const tenant = await this.access.tenant(slug);
    const form = formOf(request);
    if (!this.forms.accepts(request, tenant.slug, form.csrf)) {
      throw new ProblemError({
        status: 403,
        type: 'csrf-token-invalid',
        title: 'Form token missing or wrong',
        detail: 'reload the page and submit the form again',
      });
    }
    const context = await this.context(slug, request, reply, form);
    return { tenant, context, form };
  }
}

async function send(reply: FastifyReply, status: number, page: views.Rendered): Promise<void> {
  await reply
    .code(status)
    .headers(hostedPageHeaders({ scripts: page.scripts, brand: page.brand }))
    .send(page.html);
}

/** A refusal of a flow as the page again, with a sentence a person can act on; anything else is the service's error. */
async function refused(reply: FastifyReply, error: unknown, say: Say, page: (message: string) => views.Rendered): Promise<void> {
  if (!(error instanceof ProblemError) || error.status >= 500) throw error;
  if (error.headers['Retry-After']) reply.header('retry-after', error.headers['Retry-After']);
  return send(reply, error.status, page(sentenceOf(error, say)));
}

function sentenceOf(error: ProblemError, say: Say): string {
  if (error instanceof WeakPasswordError) {
    const field = say('field.password');
    return error.problems.map((problem) => say('refused.field', { field, reason: weakPasswordReason(problem, say) })).join(' ');
  }
  if (error instanceof RequestValidationError) {
    const sentences = error.errors.map((field) => {
      const known = FIELDS[field.pointer];
      // A field no form of these pages has: named as the API names it.
      if (!known) return say('refused.field', { field: field.pointer, reason: field.message });
      return say('refused.field', { field: say(known.name), reason: say(known.reason) });
    });
    // One sentence per field, however many of the field's rules it broke.
    return [...new Set(sentences)].join(' ');
  }
  if (error.status === 409) return say('refused.emailTaken');
  if (error.status === 429) return say('refused.tooMany');
  return say('refused.other', { detail: error.detail ?? error.title });
}

function isTokenProblem(error: unknown): error is ProblemError {
  return error instanceof ProblemError && (error.type === 'token-expired' || error.type === 'invalid-token');
}

function tokenFailure(error: ProblemError, say: Say): string {
  return say(error.type === 'token-expired' ? 'linkFailed.expired' : 'linkFailed.invalid');
}

function queryOf(request: FastifyRequest): Record<string, unknown> {
  const query = request.query;
  return query && typeof query === 'object' ? (query as Record<string, unknown>) : {};
}

function formOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  return body && typeof body === 'object' && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : {};
}

/** The one script of the journey pages, same-origin so their CSP allows it and nothing else. */
@Controller('pages')
export class JourneyScriptController {
  @Get('mailed-token.js')
  async mailedToken(@Res() reply: FastifyReply): Promise<void> {
    await reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .header('x-content-type-options', 'nosniff')
      .send(views.MAILED_TOKEN_SCRIPT_SOURCE);
  }
}
