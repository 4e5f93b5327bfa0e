import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { bounded, parseBody, ProblemError, type ApiOperation } from '#platform';
import { positionFromString } from '#eventstore';
import { ParkedEvents, type ParkedCursor, type ParkedEvent, type ParkedScope } from './parked-events';
import type { ProjectionRunner } from './projection-runner';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** What a service hands the parked-events admin API: its admin check, its tenants, its projections. */
export interface ParkedEventsWiring {
  /**
   * The service's own admin check, throwing its 401 or 403 problem. Undefined when the
   * installation gave this service no admin token: the routes then answer 404, as if absent.
   */
  readonly requireAdmin?: (headers: Headers) => void;
  /** The tenant a slug names, or undefined; may throw the service's own 404 problem. */
  readonly tenantIdOf: (slug: string) => Promise<string | undefined>;
  /** Every projection the service owns: what is listed, whether or not this process runs it. */
  readonly projections: readonly string[];
  /** The runners this process runs: only their parked events can be retried here. */
  readonly runners: readonly ProjectionRunner[];
  readonly dataSource: DataSource;
}

/**
 * Checks `Authorization: Bearer` against the admin token: 401 without one, 403 for another. For
 * services whose admin token is optional (pulse, rewards), undefined when there is none.
 */
export function adminTokenCheck(adminToken: string): (headers: Headers) => void;
export function adminTokenCheck(adminToken: string | undefined): ((headers: Headers) => void) | undefined;
export function adminTokenCheck(adminToken: string | undefined): ((headers: Headers) => void) | undefined {
  if (adminToken === undefined) return undefined;
  const expected = createHash('sha256').update(adminToken).digest();
  return (headers) => {
    const header = Array.isArray(headers.authorization) ? headers.authorization[0] : headers.authorization;
    const presented = header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    if (!presented) {
      throw new ProblemError({
        status: 401,
        type: 'unauthorized',
        title: 'Authentication required',
        detail: 'send the admin token as Authorization: Bearer',
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    // Digests of equal length keep the comparison constant-time whatever was presented.
    if (!timingSafeEqual(createHash('sha256').update(presented).digest(), expected)) {
      throw new ProblemError({ status: 403, type: 'forbidden', title: 'Not allowed', detail: 'the admin token is not valid' });
    }
  };
}

/** The parked-events admin API of one service (see ParkedEventsController). */
export class ParkedEventsAdmin {
  readonly parked: ParkedEvents;
  readonly listQuery: z.ZodType<{ projection?: string; cursor?: ParkedCursor; limit: number }>;

  constructor(readonly wiring: ParkedEventsWiring) {
    this.parked = new ParkedEvents(wiring.dataSource, wiring.projections);
    this.listQuery = listQueryOf(wiring.projections);
  }

  /** Admin first, tenant second: without the token nobody learns which slugs exist. */
  async scope(headers: Headers, slug?: string): Promise<ParkedScope> {
    if (!this.wiring.requireAdmin) throw new ProblemError({ status: 404, type: 'not-found', title: 'Not Found', detail: 'no such route' });
    this.wiring.requireAdmin(headers);
    if (slug === undefined) return 'installation';
    const tenantId = /^[a-z0-9-]{1,63}$/.test(slug) ? await this.wiring.tenantIdOf(slug) : undefined;
    if (!tenantId)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    return { tenantId };
  }

  async list(scope: ParkedScope, query: unknown) {
    const { projection, cursor, limit } = parseBody(this.listQuery, query);
    const page = await this.parked.list(scope, { projection, after: cursor, limit });
    return { items: page.items.map((item) => item.view), nextCursor: page.next ? encodeCursor(page.next) : null };
  }

  async retry(scope: ParkedScope, id: string) {
    const parked = await this.found(scope, id);
    const runner = this.wiring.runners.find((each) => each.name === parked.projection);
    if (!runner) {
      throw new ProblemError({
        status: 421,
        type: 'projection-not-running-here',
        title: 'Projection not run by this process',
        detail: `retry it on a process that runs ${parked.projection}`,
      });
    }
    const outcome = await runner.retryParked(parked);
    if (outcome.outcome === 'gone') throw notFound(id);
    if (outcome.outcome === 'failed') {
      throw new ProblemError({
        status: 409,
        type: 'parked-event-still-fails',
        title: 'The parked event still fails',
        detail: `${parked.projection} could not apply event ${parked.eventId}: ${outcome.failure.reason}`,
        extensions: {
          errorKind: outcome.failure.kind,
          reason: outcome.failure.reason,
          failure: outcome.failure.class,
          attempts: parked.view.attempts + 1,
        },
      });
    }
    return { id: parked.id, projection: parked.projection, eventId: parked.eventId, applied: true };
  }

  async dismiss(scope: ParkedScope, id: string): Promise<void> {
    if (!UUID.test(id) || !(await this.parked.dismiss(scope, id))) throw notFound(id);
  }

  private async found(scope: ParkedScope, id: string): Promise<ParkedEvent> {
    const parked = UUID.test(id) ? await this.parked.find(scope, id) : undefined;
    if (!parked) throw notFound(id);
    return parked;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const notFound = (id: string) =>
  new ProblemError({ status: 404, type: 'parked-event-not-found', title: 'Unknown parked event', detail: `no parked event ${id} here` });

/** Opaque to clients: the log position and projection of a page's last row. */
function encodeCursor(cursor: ParkedCursor): string {
  return Buffer.from(`${cursor.position.commit}/${cursor.position.prepare}/${cursor.projection}`).toString('base64url');
}

/** PostgreSQL's bigint, which holds positions. */
const MAX_BIGINT = 2n ** 63n - 1n;

function listQueryOf(projections: readonly string[]) {
  return z.object({
    projection: z
      .string()
      .refine((name) => projections.includes(name), { message: `must be one of ${projections.join(', ')}` })
      .optional(),
    cursor: bounded
      .identifier(400)
      .transform((text, context) => {
        const match = /^(\d{1,19}\/\d{1,19})\/(.+)$/.exec(Buffer.from(text, 'base64url').toString());
        const position = match ? positionFromString(match[1]!) : undefined;
        if (!match || !position || position.commit > MAX_BIGINT || position.prepare > MAX_BIGINT || !projections.includes(match[2]!)) {
          context.addIssue({ code: 'custom', message: 'not a cursor of this list: use the nextCursor of a previous page' });
          return z.NEVER;
        }
        return { position, projection: match[2]! };
      })
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  });
}

/**
 * Parked events per tenant (and installation-wide, for events that name no tenant), behind the
 * admin token: list in log order, retry (apply again through the projection), dismiss. Each
 * service wires it with a `ParkedEventsAdmin` provider (see ParkedEventsWiring).
 */
@Controller('admin')
export class ParkedEventsController {
  constructor(private readonly admin: ParkedEventsAdmin) {}

  @Get('tenants/:tenant/parked-events')
  async listOfTenant(@Param('tenant') slug: string, @Req() request: { headers: Headers }, @Query() query: unknown) {
    return this.admin.list(await this.admin.scope(request.headers, slug), query);
  }

  @Get('parked-events')
  async listAll(@Req() request: { headers: Headers }, @Query() query: unknown) {
    return this.admin.list(await this.admin.scope(request.headers), query);
  }

  @Post('tenants/:tenant/parked-events/:id/retry')
  @HttpCode(200)
  async retryOfTenant(@Param('tenant') slug: string, @Param('id') id: string, @Req() request: { headers: Headers }) {
    return this.admin.retry(await this.admin.scope(request.headers, slug), id);
  }

  @Post('parked-events/:id/retry')
  @HttpCode(200)
  async retryAny(@Param('id') id: string, @Req() request: { headers: Headers }) {
    return this.admin.retry(await this.admin.scope(request.headers), id);
  }

  @Delete('tenants/:tenant/parked-events/:id')
  @HttpCode(204)
  async dismissOfTenant(@Param('tenant') slug: string, @Param('id') id: string, @Req() request: { headers: Headers }): Promise<void> {
    await this.admin.dismiss(await this.admin.scope(request.headers, slug), id);
  }

  @Delete('parked-events/:id')
  @HttpCode(204)
  async dismissAny(@Param('id') id: string, @Req() request: { headers: Headers }): Promise<void> {
    await this.admin.dismiss(await this.admin.scope(request.headers), id);
  }
}

const adminErrors = { 401: 'no admin token', 403: 'wrong admin token', 404: 'unknown tenant, or no admin token configured' } as const;
const oneErrors = { ...adminErrors, 404: "unknown tenant or parked event (or another tenant's), or no admin token configured" } as const;

/** The routes above for a service's OpenAPI document. */
export const parkedEventsApi: readonly ApiOperation[] = [
  {
    method: 'get',
    path: '/admin/tenants/{tenant}/parked-events',
    summary:
      "A tenant's events its read models set aside (?projection=&cursor=&limit=), in log order: ids, positions, error kind and reason, never content",
    tags: ['parked events'],
    auth: 'adminToken',
    responses: { 200: 'a page of parked events', 400: 'unknown projection, malformed cursor or limit', ...adminErrors },
  },
  {
    method: 'get',
    path: '/admin/parked-events',
    summary: "Every tenant's parked events, and those of events that name no tenant (?projection=&cursor=&limit=), in log order",
    tags: ['parked events'],
    auth: 'adminToken',
    responses: { 200: 'a page of parked events', 400: 'unknown projection, malformed cursor or limit', ...adminErrors },
  },
  {
    method: 'post',
    path: '/admin/tenants/{tenant}/parked-events/{id}/retry',
    summary: 'Apply a parked event again (once its cause is fixed); removed when it applies, kept with one attempt more when not',
    tags: ['parked events'],
    auth: 'adminToken',
    responses: { 200: 'applied', ...oneErrors, 409: 'still fails (errorKind, reason)', 421: 'the projection does not run in this process' },
  },
  {
    method: 'post',
    path: '/admin/parked-events/{id}/retry',
    summary: 'Apply a parked event of any tenant, or of none, again',
    tags: ['parked events'],
    auth: 'adminToken',
    responses: { 200: 'applied', ...oneErrors, 409: 'still fails (errorKind, reason)', 421: 'the projection does not run in this process' },
  },
  {
    method: 'delete',
    path: '/admin/tenants/{tenant}/parked-events/{id}',
    summary: 'Dismiss a parked event: the read model never applies it; the event stays in the log',
    tags: ['parked events'],
    auth: 'adminToken',
    responses: { 204: 'dismissed', ...oneErrors },
  },
  {
    method: 'delete',
    path: '/admin/parked-events/{id}',
    summary: 'Dismiss a parked event of any tenant, or of none',
    tags: ['parked events'],
    auth: 'adminToken',
    responses: { 204: 'dismissed', ...oneErrors },
  },
];
