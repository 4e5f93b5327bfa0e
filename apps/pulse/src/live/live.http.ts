import { Controller, Get, Header, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventCodec, EventOf } from '#cqrs';
import type { RecordedEvent } from '#eventstore';
import { TRACKING_STREAM_PREFIX, type LoginSucceeded, type TrackingEvent } from '#contracts';
import type { AllSubscription, LiveSource } from './live.types';
import { ProblemError, TenantConcurrencyLimiter } from '#platform';
import { TenantKeys, type PulseTenant } from '../tenants/tenant-keys';
import { requireApiKey, tenantNotFound } from '../profiles/profiles.http';
import { LiveTickets, type LiveTicket } from './live-tickets';
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

interface Following {
  subscription?: AllSubscription;
  /** Settles once the feed knows where the log ends, the point its listeners see events from. */
  readonly positioned: Promise<void>;
  done: Promise<void>;
}

/**
 * One subscription to the store per process, fanned out to every open live view. It follows the
 * store rather than the ingest path, so a view on one replica shows what every replica received,
 * and only what was durably stored; sign-ins through login show up as they happen too. It runs
 * only while someone watches: a view shows what arrives from the moment it opens, so reading the
 * whole tracking log for nobody would be pure cost on the ingest path.
 */
export class LiveFeed {
  private readonly listeners = new Map<string, Set<Listener>>();
  private watching = 0;
  private started = false;
  private following?: Following;

  constructor(
    private readonly store: LiveSource,
    private readonly codec: EventCodec,
  ) {}

  start(): void {
    this.started = true;
    if (this.watching > 0) this.follow();
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.unfollow();
  }

  /**
   * Resolves once the feed is positioned, so that everything stored from then on reaches the
   * listener; the view is told it is connected only then.
   */
  async listen(tenantId: string, listener: Listener): Promise<() => void> {
    const set = this.listeners.get(tenantId) ?? new Set();
    set.add(listener);
    this.listeners.set(tenantId, set);
    this.watching++;
    if (this.started) await this.follow();
    let listening = true;
    return () => {
      if (!listening) return;
      listening = false;
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(tenantId);
      if (--this.watching === 0) void this.unfollow();
    };
  }

  private follow(): Promise<void> {
    if (this.following) return this.following.positioned;
    let positioned!: () => void;
    const following: Following = { done: Promise.resolve(), positioned: new Promise((resolve) => (positioned = resolve)) };
    this.following = following;
    following.done = (async () => {
      const from = await this.store.headPosition().finally(positioned);
      // The last view closed while the head was being read.
      if (this.following !== following) return;
      following.subscription = this.store.subscribeToAll({
        from: from ?? 'start',
        filter: {
          streamNamePrefixes: [TRACKING_STREAM_PREFIX, SIGN_IN_STREAM_PREFIX],
          eventTypePrefixes: ['MessageReceived', 'LoginSucceeded'],
        },
      });
      for await (const recorded of following.subscription) {
        const tenantId = typeof recorded.metadata.tenantId === 'string' ? recorded.metadata.tenantId : undefined;
        const listeners = tenantId ? this.listeners.get(tenantId) : undefined;
        if (!listeners || !this.codec.understands(recorded)) continue;
        const event = liveEventOf(recorded);
        for (const listener of listeners) listener(event);
      }
    })().catch(() => {
      // The store failed under the feed: the next view to open starts a fresh one.
      if (this.following === following) this.following = undefined;
    });
    return following.positioned;
  }

  private async unfollow(): Promise<void> {
    const following = this.following;
    this.following = undefined;
    if (!following) return;
    await following.subscription?.close();
    await following.done;
  }
}

/** Only ids and names are shown, so there is nothing to open: the sealed fields stay sealed. */
function liveEventOf(recorded: RecordedEvent): LiveEvent {
  if (recorded.type === 'LoginSucceeded') {
    // A sign-in through login shows as the "Signed In" track call it becomes on the profile.
    const data = recorded.data as unknown as EventOf<typeof LoginSucceeded>['data'];
    const at = recorded.createdAt.toISOString();
    return {
      messageId: recorded.id,
      type: 'track',
      name: 'Signed In',
      userId: data.userId,
      anonymousId: null,
      timestamp: data.at,
      receivedAt: at,
    };
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

/**
 * One Server-Sent Event. Only the `id:` line carries a value of the client's as is: a line break
 * there (in a messageId stored before validation refused them) would end the line and let the rest
 * forge `event:` and `data:` lines, so control characters become U+FFFD. `data:` is JSON, which
 * escapes every control character, so it stays one line.
 */
export function sseFrame(event: LiveEvent): string {
  return `id: ${sseFieldValue(event.messageId)}\nevent: message\ndata: ${JSON.stringify(event)}\n\n`;
}

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001F\u007F]/g;

function sseFieldValue(value: string): string {
  return value.replace(CONTROL, '\uFFFD');
}

export const LIVE_VIEWS = Symbol('LiveViewsPerTenant');

const ticketRefused = (detail: string) =>
  new ProblemError({
    status: 401,
    type: 'invalid-ticket',
    title: 'Invalid live ticket',
    detail,
    headers: { 'WWW-Authenticate': 'Bearer' },
  });

@Controller('t/:tenant')
export class LiveController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly feed: LiveFeed,
    private readonly tickets: LiveTickets,
    @Inject(LIVE_VIEWS) private readonly views: TenantConcurrencyLimiter,
  ) {}

  /** The live page; it reads the API key from the URL fragment, which browsers never send. */
  @Get('live.html')
  page(@Res() reply: FastifyReply): void {
    void reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(LIVE_PAGE);
  }

  /** A ticket for `GET live?ticket=`, for the api key in Authorization: Bearer. */
  @Post('live/tickets')
  @Header('cache-control', 'no-store')
  async ticket(@Req() request: FastifyRequest, @Param('tenant') slug: string): Promise<LiveTicket> {
    const tenant = await requireApiKey(this.tenants, request, slug);
    return this.tickets.issue(tenant.tenantId, new Date());
  }

  /**
   * Server-Sent Events. EventSource cannot set headers, so a browser presents a ticket in the query
   * (from POST live/tickets); other clients may send the api key as Authorization: Bearer. The api
   * key itself is never taken from the query string: URLs are kept in histories and proxy logs.
   */
  @Get('live')
  async live(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Param('tenant') slug: string,
    @Query('ticket') ticket?: unknown,
    @Query('event') eventFilter?: string,
    @Query('userId') userId?: string,
    @Query('anonymousId') anonymousId?: string,
  ): Promise<void> {
    const tenant = ticket === undefined ? await requireApiKey(this.tenants, request, slug) : await this.byTicket(slug, ticket);
    // The handler holds its tenant's slot until the view closes.
    await this.views.run(
      tenant.tenantId,
      () =>
        new Promise<void>((closed) => {
          // A view that fails to start is cut, which closes it and frees the slot.
          this.stream(reply, tenant.tenantId, { eventFilter, userId, anonymousId }, closed).catch(() => reply.raw.destroy());
        }),
      'live views',
    );
  }

  private async byTicket(slug: string, ticket: unknown): Promise<PulseTenant> {
    const tenant = await this.tenants.bySlug(slug);
    if (!tenant) throw tenantNotFound(slug);
    if (!this.tickets.admits(ticket, tenant.tenantId, new Date())) {
      throw ticketRefused('the ticket is not valid for this tenant or has expired: POST /t/{tenant}/live/tickets for a new one');
    }
    return tenant;
  }

  private async stream(
    reply: FastifyReply,
    tenantId: string,
    filters: { eventFilter?: string; userId?: string; anonymousId?: string },
    closed: () => void,
  ): Promise<void> {
    reply.hijack();
    const raw = reply.raw;
    const view: { closed: boolean; unlisten?: () => void; heartbeat?: NodeJS.Timeout } = { closed: false };
    raw.on('close', () => {
      view.closed = true;
      clearInterval(view.heartbeat);
      view.unlisten?.();
      closed();
    });
    view.unlisten = await this.feed.listen(tenantId, (event) => {
      if (filters.eventFilter && event.name !== filters.eventFilter) return;
      if (filters.userId && event.userId !== filters.userId) return;
      if (filters.anonymousId && event.anonymousId !== filters.anonymousId) return;
      raw.write(sseFrame(event));
    });
    if (view.closed) return view.unlisten();
    // Headers go out only now: a client that starts tracking once it has them sees every event.
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write(': connected\n\n');
    view.heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
  }
}
