import { createHash } from 'node:crypto';
import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { z } from 'zod';
import { bounded, BOUNDS, parseBody, ProblemError } from '#platform';
import { ProgramHandler } from '../program/program.handler';
import { Clock } from '../rewards.ports';
import { idempotencyKeyOf, isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { unknownMember } from './member.http';
import type { WalletRejection } from './wallet.decider';
import { WalletHandler } from './wallet.handler';

export const refundBody = z
  .object({
    /** The shop's order id, as it was tracked in `properties.order_id`. */
    orderId: bounded.identifier(255).min(1),
    /** How much of the order's amount (`total`) was refunded; left out, all of it. */
    amount: z.number().positive().max(BOUNDS.amount).optional(),
    cause: z.enum(['refund', 'return']).default('refund'),
  })
  .strict();

/**
 * A refund or return the shop reports through the API rather than as a tracked `Order Refunded`
 * event: the same clawback (see refund.ts). The Idempotency-Key is required: a retried refund
 * must take back once, and the same key with another body is refused rather than answered.
 */
@Controller('t/:tenant/members/:userId/refunds')
export class RefundController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly wallets: WalletHandler,
    private readonly programs: ProgramHandler,
    private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  refund(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const key = idempotencyKeyOf(request, { required: true })!;
      const input = parseBody(refundBody, body);
      if (!isMemberId(userId)) throw unknownMember(userId);
      const refundId = `api:${createHash('sha256').update(`${userId}\n${key}`).digest('hex').slice(0, 32)}`;
      const amount = input.amount ?? null;
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([input.orderId, amount, input.cause]))
        .digest('hex');
      const { program } = await this.programs.current(tenant.tenantId);
      const now = this.clock.now();
      const outcome = await this.wallets.handle(
        { type: 'ClawBack', userId, refundId, orderId: input.orderId, cause: input.cause, amount, fingerprint, program, now },
        { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now },
      );
      if (!outcome.accepted) throw refundRefused(outcome.rejection, userId, input.orderId);
      const made = (await this.wallets.state(tenant.tenantId, userId)).state.refunds.get(refundId)!;
      const { fingerprint: _fingerprint, ...answer } = made;
      return { refundId, cause: input.cause, amount, ...answer };
    });
  }
}

function refundRefused(rejection: WalletRejection, userId: string, orderId: string): ProblemError {
  switch (rejection.kind) {
    case 'UnknownOrder':
      return new ProblemError({
        status: 404,
        type: 'order-not-found',
        title: 'No points earned for this order',
        detail: `member ${userId} earned no points for order ${orderId}`,
        extensions: { orderId },
      });
    case 'OrderFullyRefunded':
      return new ProblemError({
        status: 409,
        type: 'order-fully-refunded',
        title: 'Order already refunded in full',
        detail: `the ${rejection.points} points order ${orderId} earned were all taken back already`,
        extensions: { orderId, points: rejection.points },
      });
    case 'IdempotencyKeyReused':
      return new ProblemError({
        status: 422,
        type: 'idempotency-key-reused',
        title: 'Idempotency-Key already used for another request',
        detail: 'this Idempotency-Key was used for a refund with another body; send a new key for a new refund',
      });
    default:
      return unknownMember(userId);
  }
}
