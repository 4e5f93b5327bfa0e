import { Body, Controller, Get, Param, Put, Req } from '@nestjs/common';
import { z } from 'zod';
import type { TenantBranding } from '#contracts';
import { BRANDING_FIELDS, completeBranding, NO_BRANDING, parseBody, ProblemError, RequestValidationError } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { TenantDirectory } from './tenant-directory';
import { TenantStream } from './tenant-stream';

// Only the shape here: the rules (https, #rrggbb, a supported language, ...) are the decider's,
// so that the API and any later caller of SetTenantBranding refuse the same values.
const optionalText = z.string().max(8192).nullable().optional();

export const brandingBody = z
  .object(Object.fromEntries(BRANDING_FIELDS.map((field) => [field, optionalText])) as Record<keyof TenantBranding, typeof optionalText>)
  .strict();

/**
 * A tenant's branding (name, logo, colours, support address, legal links) and default language,
 * for the installation's administrator. PUT replaces the whole of it: a field left out falls back
 * to the default. Pages and mails of register show it at once on this replica, within 30 s on
 * others; login's within a few seconds of its projection.
 */
@Controller('admin/tenants/:tenant/branding')
export class TenantBrandingController {
  constructor(
    private readonly access: TenantAccess,
    private readonly stream: TenantStream,
    private readonly directory: TenantDirectory,
  ) {}

  @Get()
  async show(@Req() request: IncomingRequest, @Param('tenant') slug: string): Promise<TenantBranding> {
    this.access.requireAdmin(request);
    const tenant = await this.access.tenant(slug);
    return (await this.stream.load(tenant.slug))?.branding ?? NO_BRANDING;
  }

  @Put()
  async set(@Req() request: IncomingRequest, @Param('tenant') slug: string, @Body() body: unknown): Promise<TenantBranding> {
    this.access.requireAdmin(request);
    const sent = parseBody(brandingBody, body);
    const tenant = await this.access.tenant(slug);
    const branding = completeBranding(sent);
    const outcome = await this.stream.decide(tenant, correlationIdOf(request), (now) => ({ type: 'SetTenantBranding', branding, now }));
    if (!outcome.accepted) {
      if (outcome.rejection.kind === 'InvalidBranding') throw new RequestValidationError([...outcome.rejection.problems]);
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: 'no tenant with this slug' });
    }
    this.directory.forget(tenant.slug);
    return outcome.state.branding;
  }
}
