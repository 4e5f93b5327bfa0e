import { Body, Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '#platform';
import { callerOf, TenantAccess } from '../access/tenant-access';
import { languageOfCall } from '../messages/messages';
import { REGISTER_SETTINGS, type RegisterSettings } from '../register.ports';
import { emailAddress, mailedToken } from '../register.schemas';
import { PasswordResetFlow } from './password-reset.flow';

export const resetRequestBody = z.object({ email: emailAddress }).strict();
export const resetConfirmBody = z.object({ token: mailedToken, password: z.string() }).strict();

@Controller('t/:tenant/password-resets')
export class PasswordResetController {
  constructor(
    private readonly flow: PasswordResetFlow,
    private readonly access: TenantAccess,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
  ) {}

  /** Always 202, account or not: the answer must not tell who is registered. */
  @Post()
  @HttpCode(202)
  async request(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    await this.flow.request(
      tenant,
      callerOf(request),
      parseBody(resetRequestBody, body).email,
      languageOfCall(request, tenant, this.settings.defaultLocale),
    );
    return { status: 'accepted', detail: 'if an account exists for this address, a reset link is on its way' };
  }

  @Post('confirm')
  @HttpCode(200)
  async confirm(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const input = parseBody(resetConfirmBody, body);
    const { userId } = await this.flow.confirm(tenant, callerOf(request), input.token, input.password);
    return { userId, passwordChanged: true };
  }
}
