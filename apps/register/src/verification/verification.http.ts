import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '#platform';
import { correlationIdOf, TenantAccess } from '../access/tenant-access';
import { tokenProblem } from '../account/token-problems';
import { parseToken } from '../account/tokens';
import { mailedToken } from '../register.schemas';
import { ReadModels } from '../read-models';
import { RequestLimits } from '../request-limits/request-limits';
import { VerifyEmail, VerifyEmailHandler } from './verification.handler';

export const verifyBody = z.object({ token: mailedToken }).strict();

@Controller('t/:tenant/email-verifications')
export class VerificationController {
  constructor(
    private readonly verifications: VerifyEmailHandler,
    private readonly access: TenantAccess,
    private readonly readModels: ReadModels,
    private readonly limits: RequestLimits,
  ) {}

  @Post()
  @HttpCode(200)
  async verify(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const { token } = parseBody(verifyBody, body);
    await this.limits.tokenAttempt('verification', tenant.tenantId, request.ip, parseToken(token)?.userId);
    const outcome = await this.verifications.execute(new VerifyEmail(tenant, token, correlationIdOf(request)));
    if (!outcome.verified) throw tokenProblem(outcome.rejection, 'verification');
    await this.readModels.caughtUpWith(outcome.position);
    return { userId: outcome.userId, emailVerified: true };
  }
}
