import { Body, Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '#platform';
import { callerOf, TenantAccess } from '../access/tenant-access';
import { languageOfCall } from '../messages/messages';
import { REGISTER_SETTINGS, type RegisterSettings } from '../register.ports';
import { emailAddress, mailedToken } from '../register.schemas';
import { EmailChangeFlow } from './email-change.flow';

export const emailChangeBody = z.object({ email: emailAddress }).strict();
export const emailChangeConfirmBody = z.object({ token: mailedToken }).strict();

/**
 * `POST /t/{tenant}/me/email`: an application asks, for its signed-in user, to move the account to
 * another address. The access token is enough, as for the profile's other changes: nothing
 * changes until the new address's owner opens the mailed link, and the current address is told.
 * Login's account page, used in a browser, checks the password again, because a browser left
 * signed in is easier to borrow than an application's token.
 */
@Controller('t/:tenant/me/email')
export class EmailChangeController {
  constructor(
    private readonly flow: EmailChangeFlow,
    private readonly access: TenantAccess,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
  ) {}

  @Post()
  @HttpCode(202)
  async request(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    const { email } = parseBody(emailChangeBody, body);
    await this.flow.request(tenant, callerOf(request), userId, email, languageOfCall(request, tenant, this.settings.defaultLocale));
    return {
      status: 'accepted',
      detail: 'a link to confirm the new address is on its way to it; the current address stays in use until then',
    };
  }
}

/**
 * `POST /t/{tenant}/email-changes/confirm`: an application that asked with `POST /me/email`, and
 * shows the mailed code in its own screens, confirms with it, as `/password-resets/confirm` does
 * for a reset. The token is the credential (no access token: the person may be signed out by now);
 * the same confirmation as the mailed link's page, so the same single use, expiry, request limits
 * and race with sign-up for the address.
 */
@Controller('t/:tenant/email-changes')
export class EmailChangeConfirmationController {
  constructor(
    private readonly flow: EmailChangeFlow,
    private readonly access: TenantAccess,
  ) {}

  @Post('confirm')
  @HttpCode(200)
  async confirm(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const { token } = parseBody(emailChangeConfirmBody, body);
    const { userId } = await this.flow.confirm(tenant, callerOf(request), token);
    return { userId, emailChanged: true };
  }
}
