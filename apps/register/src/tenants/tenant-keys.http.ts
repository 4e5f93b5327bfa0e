import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { z } from 'zod';
import { TENANT_KEY_KINDS, type TenantKey } from '#contracts';
import { bounded, parseBody, ProblemError, RequestValidationError } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { Clock } from '../register.ports';
import { TenantKeysHandler, type IssuedKey } from './tenant-keys.handler';
import { MAX_ROTATION_OVERLAP_SECONDS, type TenantRejection } from './tenant.decider';

export const issueKeyBody = z
  .object({
    kind: z.enum(TENANT_KEY_KINDS, { message: `must be one of ${TENANT_KEY_KINDS.join(', ')}` }),
    label: bounded.name().nullable().optional(),
  })
  .strict();

export const rotateKeyBody = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROTATION_OVERLAP_SECONDS, { message: `must be at most ${MAX_ROTATION_OVERLAP_SECONDS} (30 days)` }),
  })
  .strict();

const keyIdParam = z.object({ keyId: bounded.identifier(64) });

const listQuery = z.object({
  cursor: z
    .string()
    .regex(/^\d{1,6}$/, { message: 'use the nextCursor of a previous page' })
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

/**
 * A tenant's keys, for the installation's administrator. Secrets appear in the answer that issues
 * them and nowhere else; lists show what a key is and until when it works, never the key or its hash.
 */
@Controller('admin/tenants/:tenant/keys')
export class TenantKeysController {
  constructor(
    private readonly access: TenantAccess,
    private readonly keys: TenantKeysHandler,
    private readonly clock: Clock,
  ) {}

  /** In the order they were issued, ended keys included (status `revoked`), paginated (?cursor=&limit=). */
  @Get()
  async list(@Req() request: IncomingRequest, @Param('tenant') slug: string, @Query() query: Record<string, unknown>) {
    this.access.requireAdmin(request);
    const { cursor, limit = 50 } = parseBody(listQuery, query);
    const tenant = await this.access.tenant(slug);
    const ring = await this.keys.ring(tenant.slug);
    const from = Number(cursor ?? 0);
    const page = (ring?.keys ?? []).slice(from, from + limit);
    const now = this.clock.now();
    return {
      items: page.map((key) => keyView(key, now)),
      nextCursor: from + limit < (ring?.keys.length ?? 0) ? String(from + limit) : null,
    };
  }

  /** A new key of the kind asked for, returned once (201). */
  @Post()
  @HttpCode(201)
  async issue(@Req() request: IncomingRequest, @Param('tenant') slug: string, @Body() body: unknown) {
    this.access.requireAdmin(request);
    const input = parseBody(issueKeyBody, body);
    const tenant = await this.access.tenant(slug);
    const outcome = await this.keys.issue(tenant, input.kind, input.label ?? null, correlationIdOf(request));
    if (!outcome.accepted) throw keyProblem(outcome.rejection);
    return issuedView(outcome.value, this.clock.now());
  }

  /** A successor of the same kind, returned once; the old key keeps working for `overlapSeconds`, then is refused. */
  @Post(':keyId/rotation')
  @HttpCode(201)
  async rotate(@Req() request: IncomingRequest, @Param('tenant') slug: string, @Param('keyId') keyId: string, @Body() body: unknown) {
    this.access.requireAdmin(request);
    const { overlapSeconds } = parseBody(rotateKeyBody, body);
    const tenant = await this.access.tenant(slug);
    const outcome = await this.keys.rotate(tenant, checkedKeyId(keyId), overlapSeconds, correlationIdOf(request));
    if (!outcome.accepted) throw keyProblem(outcome.rejection);
    const now = this.clock.now();
    return { ...issuedView(outcome.value, now), replaced: keyView(outcome.value.replaced, now) };
  }

  /** Refused from now on, by every service (see the README for how soon). */
  @Delete(':keyId')
  @HttpCode(204)
  async revoke(@Req() request: IncomingRequest, @Param('tenant') slug: string, @Param('keyId') keyId: string) {
    this.access.requireAdmin(request);
    const tenant = await this.access.tenant(slug);
    const outcome = await this.keys.revoke(tenant, checkedKeyId(keyId), correlationIdOf(request));
    if (!outcome.accepted) throw keyProblem(outcome.rejection);
  }
}

function checkedKeyId(keyId: string): string {
  return parseBody(keyIdParam, { keyId }).keyId;
}

function keyView(key: TenantKey, now: Date) {
  const status = key.validUntil === null ? 'active' : now.getTime() < Date.parse(key.validUntil) ? 'expiring' : 'revoked';
  return {
    id: key.keyId,
    kind: key.kind,
    label: key.label,
    issuedAt: key.issuedAt,
    validUntil: key.validUntil,
    status,
    replaces: key.replaces,
  };
}

function issuedView({ key, secret }: IssuedKey, now: Date) {
  return { ...keyView(key, now), key: secret };
}

function keyProblem(rejection: TenantRejection): ProblemError {
  switch (rejection.kind) {
    case 'UnknownTenant':
      return new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: 'no tenant with this slug' });
    case 'UnknownKey':
      return new ProblemError({
        status: 404,
        type: 'tenant-key-not-found',
        title: 'Unknown key',
        detail: `the tenant has no key ${rejection.keyId}`,
      });
    case 'KeyRevoked':
      return new ProblemError({
        status: 409,
        type: 'tenant-key-revoked',
        title: 'Key no longer valid',
        detail: `key ${rejection.keyId} has been refused since ${rejection.validUntil}`,
      });
    case 'KeyAlreadyEnding':
      return new ProblemError({
        status: 409,
        type: 'tenant-key-ending',
        title: 'Key already rotated',
        detail: `key ${rejection.keyId} ends at ${rejection.validUntil}; rotate its successor, or revoke it to end it now`,
      });
    case 'LastApiKey':
      return new ProblemError({
        status: 409,
        type: 'last-api-key',
        title: 'Last API key',
        detail: `revoking ${rejection.keyId} would leave the tenant no API key: issue or rotate to a new one first`,
      });
    case 'TooManyKeys':
      return new ProblemError({
        status: 409,
        type: 'tenant-key-limit',
        title: 'Too many keys',
        detail: `a tenant holds at most ${rejection.limit} keys that have not ended; revoke one first`,
      });
    case 'InvalidBranding':
      return new RequestValidationError([...rejection.problems]);
    case 'OverlapOutOfRange':
      return new RequestValidationError([{ pointer: '/overlapSeconds', message: `must be a whole number from 0 to ${rejection.max}` }]);
    case 'KeyIdTaken':
    case 'SlugTaken':
      return new ProblemError({ status: 409, type: 'conflict', title: 'Conflict', detail: 'the key could not be issued; try again' });
  }
}
