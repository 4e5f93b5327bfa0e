import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { normaliseEmail } from '#personal-data';
import { parseBody, RequestValidationError } from '#platform';
import { correlationIdOf, TenantAccess } from '../access/tenant-access';
import { tokenProblem } from '../account/token-problems';
import { parseToken } from '../account/tokens';
import { emailAddress, mailedToken } from '../register.schemas';
import { ReadModels } from '../read-models';
import { EmailIndex } from '../register.ports';
import { RequestLimits } from '../request-limits/request-limits';
import { passwordProblems } from '../sign-up/password';
import {
  ConfirmPasswordReset,
  ConfirmPasswordResetHandler,
  RequestPasswordReset,
  RequestPasswordResetHandler,
} from './password-reset.handler';

export const resetRequestBody = z.object({ email: emailAddress }).strict();
export const resetConfirmBody = z.object({ token: mailedToken, password: z.string() }).strict();

@Controller('t/:tenant/password-resets')
export class PasswordResetController {
  constructor(
    private readonly resetRequests: RequestPasswordResetHandler,
    private readonly resetConfirmations: ConfirmPasswordResetHandler,
    private readonly access: TenantAccess,
    private readonly limits: RequestLimits,
    private readonly emailIndex: EmailIndex,
    private readonly readModels: ReadModels,
  ) {}

  /** Always 202, account or not: the answer must not tell who is registered. */
  @Post()
  @HttpCode(202)
  async request(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const email = normaliseEmail(parseBody(resetRequestBody, body).email);
    const { mayMail } = await this.limits.passwordReset(tenant.tenantId, request.ip, this.emailIndex.of(tenant.tenantId, email));
    await this.resetRequests.execute(new RequestPasswordReset(tenant, email, correlationIdOf(request), mayMail));
    return { status: 'accepted', detail: 'if an account exists for this address, a reset link is on its way' };
  }

  @Post('confirm')
  @HttpCode(200)
  async confirm(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const input = parseBody(resetConfirmBody, body);
    const weak = passwordProblems(input.password, '');
    if (weak.length > 0) throw new RequestValidationError(weak.map((message) => ({ pointer: '/password', message })));
    await this.limits.tokenAttempt('reset-confirm', tenant.tenantId, request.ip, parseToken(input.token)?.userId);
    const outcome = await this.resetConfirmations.execute(
      new ConfirmPasswordReset(tenant, input.token, input.password, correlationIdOf(request)),
    );
    if (!outcome.reset) throw tokenProblem(outcome.rejection, 'reset');
    // Answered once the profile shows it (the e-mail now verified), as sign-up and verification are.
    await this.readModels.caughtUpWith(outcome.position);
    return { userId: outcome.userId, passwordChanged: true };
  }
}
