import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody, ProblemError, RequestValidationError } from '#platform';
import { correlationIdOf, TenantAccess } from '../access/tenant-access';
import { emptyProfile } from '../account/account.state';
import { normaliseEmail } from '#personal-data';
import { ReadModels } from '../read-models';
import { EmailIndex } from '../register.ports';
import { consentList, emailAddress, profileChanges } from '../register.schemas';
import { RequestLimits } from '../request-limits/request-limits';
import { passwordProblems } from './password';
import { SignUp, SignUpHandler } from './sign-up.handler';

export const signUpBody = z
  .object({
    email: emailAddress,
    password: z.string(),
    profile: profileChanges.optional(),
    consents: consentList.optional(),
  })
  .strict();

@Controller('t/:tenant/users')
export class SignUpController {
  constructor(
    private readonly signUps: SignUpHandler,
    private readonly access: TenantAccess,
    private readonly readModels: ReadModels,
    private readonly limits: RequestLimits,
    private readonly emailIndex: EmailIndex,
  ) {}

  @Post()
  @HttpCode(201)
  async signUp(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const input = parseBody(signUpBody, body);
    const email = normaliseEmail(input.email);
    const weak = passwordProblems(input.password, email);
    if (weak.length > 0) throw new RequestValidationError(weak.map((message) => ({ pointer: '/password', message })));
    // Counted once the request is well-formed, before argon2id: a refused sign-up costs no hash.
    await this.limits.signUp(tenant.tenantId, request.ip, this.emailIndex.of(tenant.tenantId, email));
    const profile = { ...emptyProfile, ...input.profile };
    const consents = input.consents ?? [];
    const outcome = await this.signUps.execute(new SignUp(tenant, email, input.password, profile, consents, correlationIdOf(request)));
    if (!outcome.registered) {
      throw new ProblemError({
        status: 409,
        type: 'email-taken',
        title: 'E-mail address already registered',
        detail: 'an account with this e-mail address exists in this tenant',
      });
    }
    await this.readModels.caughtUpWith(outcome.position);
    return {
      id: outcome.userId,
      email,
      emailVerified: false,
      profile,
      consents: consents.map((c) => ({ ...c, grantedAt: outcome.registeredAt.toISOString() })),
      createdAt: outcome.registeredAt.toISOString(),
    };
  }
}
