import { Body, Controller, Get, Param, Patch, Req } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { parseBody, ProblemError, RequestValidationError } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { ReadModels } from '../read-models';
import { profileChanges } from '../register.schemas';
import { ChangeOwnAccount, ChangeOwnAccountHandler } from './account-commands.handler';
import { ProfileRow } from './profile.entity';

export const accountNotFound = () =>
  new ProblemError({
    status: 404,
    type: 'account-not-found',
    title: 'Account not found',
    detail: 'the account of this token does not exist or was erased',
  });

export function profileView(row: ProfileRow) {
  return {
    id: row.userId,
    email: row.email,
    emailVerified: row.emailVerified,
    profile: { givenName: row.givenName, familyName: row.familyName, phone: row.phone, locale: row.locale },
    consents: Object.entries(row.consents)
      .map(([purpose, consent]) => ({ purpose, ...consent }))
      .sort((a, b) => a.purpose.localeCompare(b.purpose)),
    createdAt: row.registeredAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

@Controller('t/:tenant/me')
export class ProfileController {
  constructor(
    private readonly accountChanges: ChangeOwnAccountHandler,
    private readonly access: TenantAccess,
    private readonly readModels: ReadModels,
    private readonly dataSource: DataSource,
  ) {}

  @Get()
  async read(@Param('tenant') slug: string, @Req() request: IncomingRequest) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    return profileView(await this.profileOf(tenant.tenantId, userId));
  }

  @Patch()
  async update(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    const changes = parseBody(profileChanges, body);
    if (Object.keys(changes).length === 0)
      throw new RequestValidationError([{ pointer: '', message: 'name at least one field to change' }]);
    const outcome = await this.accountChanges.execute(
      new ChangeOwnAccount(tenant, userId, () => ({ type: 'UpdateProfile', changes }), correlationIdOf(request)),
    );
    if (!outcome.accepted) throw accountNotFound();
    await this.readModels.caughtUpWith(outcome.position);
    return profileView(await this.profileOf(tenant.tenantId, userId));
  }

  private async profileOf(tenantId: string, userId: string): Promise<ProfileRow> {
    const row = await this.dataSource.getRepository(ProfileRow).findOneBy({ tenantId, userId });
    if (!row) throw accountNotFound();
    return row;
  }
}
