import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { z } from 'zod';
import { bounded, parseBody, ProblemError } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { CreateTenant, CreateTenantHandler } from './create-tenant.handler';

export const createTenantBody = z
  .object({
    slug: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
      message: 'must be 1-63 lowercase letters, digits or dashes, not starting or ending with a dash',
    }),
    name: bounded.name(),
  })
  .strict();

@Controller('admin/tenants')
export class TenantsController {
  constructor(
    private readonly tenantCreation: CreateTenantHandler,
    private readonly access: TenantAccess,
  ) {}

  /** The keys are in this answer and nowhere else: only their hashes are stored. */
  @Post()
  @HttpCode(201)
  async create(@Req() request: IncomingRequest, @Body() body: unknown) {
    this.access.requireAdmin(request);
    const input = parseBody(createTenantBody, body);
    const outcome = await this.tenantCreation.execute(new CreateTenant(input.slug, input.name, correlationIdOf(request)));
    if (!outcome.created) {
      throw new ProblemError({
        status: 409,
        type: 'tenant-slug-taken',
        title: 'Tenant slug taken',
        detail: `a tenant with slug ${input.slug} exists`,
      });
    }
    return {
      id: outcome.tenantId,
      slug: outcome.slug,
      name: outcome.name,
      writeKey: outcome.writeKey,
      apiKey: outcome.apiKey,
      createdAt: outcome.createdAt.toISOString(),
    };
  }
}
