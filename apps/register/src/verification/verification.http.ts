import { Body, Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '#platform';
import { callerOf, TenantAccess } from '../access/tenant-access';
import { languageOfCall } from '../messages/messages';
import { REGISTER_SETTINGS, type RegisterSettings } from '../register.ports';
import { emailAddress, mailedToken } from '../register.schemas';
import { VerificationFlow } from './verification.flow';

export const verifyBody = z.object({ token: mailedToken }).strict();
export const verificationLinkBody = z.object({ email: emailAddress }).strict();

@Controller('t/:tenant/email-verifications')
export class VerificationController {
  constructor(
    private readonly flow: VerificationFlow,
    private readonly access: TenantAccess,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
  ) {}

  @Post()
  @HttpCode(200)
  async verify(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const { token } = parseBody(verifyBody, body);
    const { userId } = await this.flow.verify(tenant, callerOf(request), token);
    return { userId, emailVerified: true };
  }

  /** A new verification link, mailed when the address awaits one. Always 202: the answer must not tell who is registered. */
  @Post('requests')
  @HttpCode(202)
  async requestLink(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    await this.flow.requestLink(
      tenant,
      callerOf(request),
      parseBody(verificationLinkBody, body).email,
      languageOfCall(request, tenant, this.settings.defaultLocale),
    );
    return { status: 'accepted', detail: 'if this address awaits verification, a new link is on its way' };
  }
}
