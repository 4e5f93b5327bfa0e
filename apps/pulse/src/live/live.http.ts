import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventCodec } from '../../../../libs/cqrs/src/event-codec';
import type { EventOf } from '../../../../libs/cqrs/src/event-types';
import type { RecordedEvent } from '../../../../libs/eventstore/src/event-store';
import type { LoginSucceeded } from '../../../login/src/sign-in/sign-in.events';
import type { AllSubscription, PostgresEventStoreLike } from './live.types';
import { ProblemError } from '../../../../libs/platform/src/problem-details';
import { keyMatches } from '../../../register/src/tenants/tenant-keys';
import { TenantKeys } from '../tenants/tenant-keys';
import { TRACKING_STREAM_PREFIX, type TrackingEvent } from '../tracking/tracking.events';
import { SIGN_IN_STREAM_PREFIX } from '../identity/sightings';
import { LIVE_PAGE } from './live.page';

/** What the live view shows of a message: what happened to whom, never traits or properties. */
export interface LiveEvent {
  readonly messageId: string;
  readonly type: string;
  readonly name: string | null;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly timestamp: string;
  readonly receivedAt: string;
}

type Listener = (event: LiveEvent) => void;

/**
 * One subscription to the store per process, fanned out to every open live view. It follows the
 * store rather than the ingest path, so a view on one replica shows what every replica received,
 * and only what was durably stored; sign-ins through login show up as they happen too.
 */
export class LiveFeed {
  private readonly listeners = new Map<string, Set<Listener>>();
  private subscription?: AllSubscription;
  private running?: Promise<void>;

  constructor(
    private readonly store: PostgresEventStoreLike,
    private readonly codec: EventCodec,
  ) {}

  start(): void {
    this.running ??= this.follow().catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    await this.running;
  }

  listen(tenantId: string, listener: Listener): () => void {
    const set = this.listeners.get(tenantId) ?? new Set();
    set.add(listener);
    this.listeners.set(tenantId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(tenantId);
    };
  }

  private async follow(): Promise<void> {
    const from = (await this.store.headPosition()) ?? 'start';
    this.subscription = this.store.subscribeToAll({
      from,
      filter: { streamNamePrefixes: [TRACKING_STREAM_PREFIX, SIGN_IN_STREAM_PREFIX], eventTypePrefixes: ['MessageReceived', 'LoginSucceeded'] },
    });
    for await (const recorded of this.subscription) {
      const tenantId = typeof recorded.metadata.tenantId === 'string' ? recorded.metadata.tenantId : undefined;
      const listeners = tenantId ? this.listeners.get(tenantId) : undefined;
      if (!listeners || !this.codec.understands(recorded)) continue;
      const event = liveEventOf(recorded);
      for (const listener of listeners) listener(event);
    }
  }
}

/** Only ids and names are shown, so there is nothing to open: the sealed fields stay sealed. */
function liveEventOf(recorded: RecordedEvent): LiveEvent {
  if (recorded.type === 'LoginSucceeded') {
    // A sign-in through login shows as the "Signed In" track call it becomes on the profile.
    const data = recorded.data as unknown as EventOf<typeof LoginSucceeded>['data'];
    const at = recorded.createdAt.toISOString();
    return { messageId: recorded.id, type: 'track', name: 'Signed In', userId: data.userId, anonymousId: null, timestamp: data.at, receivedAt: at };
  }
  const data = recorded.data as unknown as TrackingEvent['data'];
  return {
    messageId: data.messageId,
    type: data.kind,
    name: data.event ?? data.name ?? null,
    userId: data.userId,
    anonymousId: data.anonymousId,
    timestamp: data.timestamp,
    receivedAt: data.receivedAt,
  };
}

@Controller('t/:tenant')
export class LiveController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly feed: LiveFeed,
  ) {}

  /** The live page; it reads the API key from the URL fragment, which browsers never send. */
  @Get('live.html')
  page(@Res() reply: FastifyReply): void {
    void reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(LIVE_PAGE);
  }

  /**
   * Server-Sent Events. EventSource cannot set headers, so the API key may also come as `key` in
   * the query (the platform never logs query strings).
   */
  @Get('live')
  async live(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Param('tenant') slug: string,
    @Query('key') queryKey?: string,
    @Query('event') eventFilter?: string,
    @Query('userId') userId?: string,
    @Query('anonymousId') anonymousId?: string,
  ): Promise<void> {
    const tenant = await this.tenants.bySlug(slug);
    if (!tenant) throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    const key = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? queryKey;
    if (!key || !keyMatches(key, tenant.apiKeyHash)) {
      throw new ProblemError({ status: 401, type: 'unauthorized', title: 'Authentication required', detail: "send the tenant's API key as Authorization: Bearer or ?key=", headers: { 'WWW-Authenticate': 'Bearer' } });
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(': connected\n\n');
    const unlisten = this.feed.listen(tenant.tenantId, (event) => {
      if (eventFilter && event.name !== eventFilter) return;
      if (userId && event.userId !== userId) return;
      if (anonymousId && event.anonymousId !== anonymousId) return;
      raw.write(`id: ${event.messageId}\nevent: message\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    raw.on('close', () => {
      clearInterval(heartbeat);
      unlisten();
    });
  }
}
