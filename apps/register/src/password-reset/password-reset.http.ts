import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { normaliseEmail } from '#personal-data';
import { parseBody, RequestValidationError } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { tokenProblem } from '../account/token-problems';
import { emailAddress, mailedToken } from '../register.schemas';
import { passwordProblems } from '../sign-up/password';
import { ConfirmPasswordReset, RequestPasswordReset } from './password-reset.handler';

export const resetRequestBody = z.object({ email: emailAddress }).strict();
export const resetConfirmBody = z.object({ token: mailedToken, password: z.string() }).strict();

@Controller('t/:tenant/password-resets')
export class PasswordResetController {
  constructor(
    private readonly commands: CommandBus,
    private readonly access: TenantAccess,
  ) {}

  /** Always 202, account or not: the answer must not tell who is registered. */
  @Post()
  @HttpCode(202)
  async request(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const { email } = parseBody(resetRequestBody, body);
    await this.commands.execute(new RequestPasswordReset(tenant, normaliseEmail(email), correlationIdOf(request)));
    return { status: 'accepted', detail: 'if an account exists for this address, a reset link is on its way' };
  }

  @Post('confirm')
  @HttpCode(200)
  async confirm(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    const tenant = await this.access.tenant(slug);
    const input = parseBody(resetConfirmBody, body);
    const weak = passwordProblems(input.password, '');
    if (weak.length > 0) throw new RequestValidationError(weak.map((message) => ({ pointer: '/password', message })));
    const outcome = await this.commands.execute(new ConfirmPasswordReset(tenant, input.token, input.password, correlationIdOf(request)));
    if (!outcome.reset) throw tokenProblem(outcome.rejection, 'reset');
    return { userId: outcome.userId, passwordChanged: true };
  }
}
