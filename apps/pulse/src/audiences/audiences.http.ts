import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import type { CommandContext, CommandRunner } from '#cqrs';
import { ProblemError, RequestValidationError } from '#platform';
import { pageParameters } from '../destinations/destinations.http';
import { requireApiKey } from '../profiles/profiles.http';
import { TenantKeys } from '../tenants/tenant-keys';
import { DEFINITION_KEY, parseAudienceBody, parseTraitBody } from './audience-input';
import { audiencesDecider, type AudiencesCommand, type AudiencesRejection, type AudiencesState } from './audience.decider';
import { audiencesStreamFor } from './audience.events';

/** The ports the definition routes use: the command runner (the tenant's definitions stream) and the read models. */
export class AudiencesStore {
  constructor(
    readonly commands: CommandRunner,
    readonly pool: Pool,
  ) {}

  async definitions(tenantId: string): Promise<AudiencesState> {
    return (await this.commands.load(audiencesStreamFor(tenantId), audiencesDecider)).state;
  }

  async run(command: AudiencesCommand, context: CommandContext): Promise<void> {
    const outcome = await this.commands.handle({
      streamName: audiencesStreamFor(context.tenantId),
      decider: audiencesDecider,
      command,
      context,
      retriesOnConflict: 2,
    });
    if (!outcome.accepted) throw problemOf(outcome.rejection);
  }
}

function problemOf(rejection: AudiencesRejection): Error {
  switch (rejection.kind) {
    case 'UnknownComputedTrait':
      return new RequestValidationError([{ pointer: rejection.pointer, message: `no computed trait ${rejection.key} in this tenant` }]);
    case 'KeyTaken':
      return new ProblemError({
        status: 409,
        type: 'definition-exists',
        title: 'Key taken',
        detail: `${rejection.key} is defined already`,
      });
    case 'LimitReached':
      return new ProblemError({
        status: 409,
        type: 'definition-limit',
        title: 'Too many definitions',
        detail: `at most ${rejection.limit}`,
      });
    case 'TraitInUse':
      return new ProblemError({
        status: 409,
        type: 'computed-trait-in-use',
        title: 'Computed trait in use',
        detail: `audiences ${rejection.audiences.join(', ')} read it`,
      });
    case 'NotFound':
      return notFound();
  }
}

const notFound = () =>
  new ProblemError({ status: 404, type: 'definition-not-found', title: 'Unknown key', detail: 'nothing of this key in this tenant' });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function contextOf(tenants: TenantKeys, request: FastifyRequest, slug: string): Promise<CommandContext> {
  const tenant = await requireApiKey(tenants, request, slug);
  return { tenantId: tenant.tenantId, correlationId: request.id ?? randomUUID(), now: new Date() };
}

/** A tenant's computed traits, with its API key (as destinations). */
@Controller('t/:tenant/computed-traits')
export class ComputedTraitsController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly store: AudiencesStore,
  ) {}

  @Get()
  async list(@Req() request: FastifyRequest, @Param('tenant') slug: string) {
    const { tenantId } = await contextOf(this.tenants, request, slug);
    const { traits } = await this.store.definitions(tenantId);
    return { computedTraits: Object.entries(traits).map(([key, definition]) => ({ key, definition })) };
  }

  @Post()
  @HttpCode(201)
  async define(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Body() body: unknown) {
    const context = await contextOf(this.tenants, request, slug);
    const { key, definition } = parseTraitBody(body);
    await this.store.run({ type: 'DefineTrait', key, definition, now: context.now }, context);
    return { key, definition };
  }

  @Delete(':key')
  @HttpCode(204)
  async remove(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('key') key: string): Promise<void> {
    const context = await contextOf(this.tenants, request, slug);
    if (!DEFINITION_KEY.test(key)) throw notFound();
    await this.store.run({ type: 'RemoveTrait', key, now: context.now }, context);
  }
}

/** A tenant's audiences and their members, with its API key. */
@Controller('t/:tenant/audiences')
export class AudiencesController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly store: AudiencesStore,
  ) {}

  @Get()
  async list(@Req() request: FastifyRequest, @Param('tenant') slug: string) {
    const { tenantId } = await contextOf(this.tenants, request, slug);
    const { audiences } = await this.store.definitions(tenantId);
    return { audiences: Object.entries(audiences).map(([key, definition]) => ({ key, ...definition })) };
  }

  @Post()
  @HttpCode(201)
  async define(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Body() body: unknown) {
    const context = await contextOf(this.tenants, request, slug);
    const { key, definition } = parseAudienceBody(body);
    await this.store.run({ type: 'DefineAudience', key, definition, now: context.now }, context);
    return { key, ...definition };
  }

  @Delete(':key')
  @HttpCode(204)
  async remove(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('key') key: string): Promise<void> {
    const context = await contextOf(this.tenants, request, slug);
    if (!DEFINITION_KEY.test(key)) throw notFound();
    await this.store.run({ type: 'RemoveAudience', key, now: context.now }, context);
  }

  /** Members by profile id, a page at a time (the cursor is the last profile id of the page). */
  @Get(':key/members')
  async members(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Param('key') key: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    const { tenantId } = await contextOf(this.tenants, request, slug);
    if (!DEFINITION_KEY.test(key)) throw notFound();
    const size = pageParameters(limit, cursor, UUID);
    if (!Object.hasOwn((await this.store.definitions(tenantId)).audiences, key)) throw notFound();
    const { rows } = await this.store.pool.query<{ profile_id: string; user_id: string | null; changed_at: Date }>(
      `SELECT m.profile_id::text AS profile_id, p.user_id, m.changed_at FROM pulse_audience_members m
       LEFT JOIN pulse_profiles p ON p.tenant_id = m.tenant_id AND p.profile_id = m.profile_id
       WHERE m.tenant_id = $1 AND m.audience_key = $2 AND m.member AND m.profile_id > $3::uuid
       ORDER BY m.profile_id LIMIT $4`,
      [tenantId, key, cursor ?? '00000000-0000-0000-0000-000000000000', size + 1],
    );
    const page = rows.slice(0, size);
    return {
      members: page.map((row) => ({ profileId: row.profile_id, userId: row.user_id, enteredAt: row.changed_at.toISOString() })),
      nextCursor: rows.length > size ? page[page.length - 1]!.profile_id : null,
    };
  }
}
