import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { positionFromString } from '#eventstore';
import { dismissDeadLetter, listDeadLetters, replayStatus, requestReplay, retryDeadLetter, type ReplayBound } from '#outbound';
import { ProblemError, RequestValidationError } from '#platform';
import { parseReplayRange } from './destination-input';
import { DestinationServices, pageParameters } from './destinations.http';

const DELIVERY_ID = /^\d{1,19}$/;
const REPLAY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const deadLetterNotFound = () =>
  new ProblemError({
    status: 404,
    type: 'dead-letter-not-found',
    title: 'Unknown dead letter',
    detail: 'no such dead letter for this destination',
  });

/** What a destination did not deliver (dead letters: list, retry, dismiss) and replays of the log to it. */
@Controller('t/:tenant/destinations/:id')
export class DestinationDeliveriesController {
  constructor(private readonly services: DestinationServices) {}

  @Get('dead-letters')
  async deadLetters(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    const { context } = await this.services.destination(request, slug, id);
    const size = pageParameters(limit, cursor, DELIVERY_ID);
    const page = await listDeadLetters(this.services.pool, context.tenantId, id, cursor, size);
    return { items: page.items, nextCursor: page.next ?? null };
  }

  /** Queued again with the same webhook-id, so a receiver that did get it after all drops it. */
  @Post('dead-letters/:deliveryId/retry')
  @HttpCode(202)
  async retry(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Param('deliveryId') deliveryId: string,
  ) {
    await this.onDeadLetter(request, slug, id, deliveryId, retryDeadLetter);
    return { id: deliveryId, state: 'pending' };
  }

  @Delete('dead-letters/:deliveryId')
  @HttpCode(204)
  async dismiss(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Param('deliveryId') deliveryId: string,
  ) {
    await this.onDeadLetter(request, slug, id, deliveryId, dismissDeadLetter);
  }

  /** Runs `change` on one dead letter of the caller's destination; 404 when there is no such dead letter. */
  private async onDeadLetter(
    request: FastifyRequest,
    slug: string,
    id: string,
    deliveryId: string,
    change: (pool: Pool, tenantId: string, endpointId: string, deliveryId: string) => Promise<boolean>,
  ): Promise<void> {
    const { context } = await this.services.destination(request, slug, id);
    if (!DELIVERY_ID.test(deliveryId) || !(await change(this.services.pool, context.tenantId, id, deliveryId))) throw deadLetterNotFound();
  }

  /**
   * Re-delivers the messages stored in a range of the log, as the destination's settings say now:
   * `from` and `to` are instants (from inclusive, to exclusive) or log positions (after `from`, up
   * to `to`). They go out in the replay lane, paced, under new webhook-ids (a receiver that dedupes
   * on webhook-id would drop a replay otherwise; each message keeps its messageId).
   */
  @Post('replays')
  @HttpCode(202)
  async replay(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('id') id: string, @Body() body: unknown) {
    const { context } = await this.services.destination(request, slug, id);
    const range = parseReplayRange(body);
    const from = boundOf(range.from, '/from');
    const to = range.to === undefined ? undefined : boundOf(range.to, '/to');
    if ('time' in from && to && 'time' in to && to.time <= from.time) {
      throw new RequestValidationError([{ pointer: '/to', message: 'must be after from' }]);
    }
    const replayId = await requestReplay(this.services.pool, this.services.store, { tenantId: context.tenantId, endpointId: id, from, to });
    return { id: replayId, state: 'running' };
  }

  @Get('replays/:replayId')
  async replayState(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Param('replayId') replayId: string,
  ) {
    const { context } = await this.services.destination(request, slug, id);
    const found = REPLAY_ID.test(replayId) ? await replayStatus(this.services.pool, context.tenantId, id, replayId) : undefined;
    if (!found) throw new ProblemError({ status: 404, type: 'replay-not-found', title: 'Unknown replay' });
    return found;
  }
}

function boundOf(text: string, pointer: string): ReplayBound {
  if (text.includes('/')) return { position: positionFromString(text) };
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new RequestValidationError([{ pointer, message: 'must be an ISO-8601 date-time' }]);
  return { time };
}
