import { Body, Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '#platform';
import { callerOf, TenantAccess } from '../access/tenant-access';
import { languageOfCall } from '../messages/messages';
import { REGISTER_SETTINGS, type RegisterSettings } from '../register.ports';
import { consentList, emailAddress, profileChanges } from '../register.schemas';
import { SignUpFlow } from './sign-up.flow';

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
    private readonly flow: SignUpFlow,
    private readonly access: TenantAccess,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
  ) {}

  @Post()
  @HttpCode(201)
  async signUp(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const input = parseBody(signUpBody, body);
    const signedUp = await this.flow.signUp(tenant, callerOf(request), input, languageOfCall(request, tenant, this.settings.defaultLocale));
    return {
      id: signedUp.userId,
      email: signedUp.email,
      emailVerified: false,
      profile: signedUp.profile,
      consents: signedUp.consents.map((c) => ({ ...c, grantedAt: signedUp.registeredAt.toISOString() })),
      createdAt: signedUp.registeredAt.toISOString(),
    };
  }
}
