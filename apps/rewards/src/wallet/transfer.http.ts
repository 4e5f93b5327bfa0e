import { createHash } from 'node:crypto';
import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { z } from 'zod';
import { bounded, parseBody, ProblemError, RequestValidationError } from '#platform';
import { ProgramHandler } from '../program/program.handler';
import { Clock, MEMBER_ID } from '../rewards.ports';
import { idempotencyKeyOf, isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { unknownMember } from './member.http';
import { TransferDelivery } from './transfer-delivery';
import type { WalletRejection } from './wallet.decider';
import { WalletHandler } from './wallet.handler';

export const transferBody = z
  .object({
    /** The member who gets the points: another member of the same tenant. */
    to: bounded.identifier(128).regex(MEMBER_ID, { message: 'must be a member id (letters, digits, . _ : -; no @)' }),
    points: bounded.points(),
  })
  .strict();

/**
 * Points from one member to another of the same tenant, within the program's `transfers` limits.
 * The sender's wallet decides (so no race overdraws it). Where the store appends across streams
 * (PostgreSQL) the debit and the credit are one append; otherwise the recipient is credited right
 * after, from the sender's record, and the `rewards.transfers` projection finishes any transfer a
 * crash left between the two. Idempotency-Key required: a retry moves the points once.
 */
@Controller('t/:tenant/members/:userId/transfers')
export class TransferController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly wallets: WalletHandler,
    private readonly programs: ProgramHandler,
    private readonly delivery: TransferDelivery,
    private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  transfer(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const key = idempotencyKeyOf(request, { required: true })!;
      const input = parseBody(transferBody, body);
      if (!isMemberId(userId)) throw unknownMember(userId);
      if (input.to === userId) throw new RequestValidationError([{ pointer: '/to', message: 'must be another member than the sender' }]);
      const transferId = `api:${createHash('sha256').update(`${userId}\n${key}`).digest('hex').slice(0, 32)}`;
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([input.to, input.points]))
        .digest('hex');
      const earlier = (await this.wallets.state(tenant.tenantId, userId)).state.transfersOut.get(transferId);
      // A new transfer goes to a member; a retried one is answered whatever became of the recipient since.
      if (!earlier && !(await this.wallets.state(tenant.tenantId, input.to)).state.enrolled)
        throw new ProblemError({
          status: 404,
          type: 'recipient-not-found',
          title: 'Unknown recipient',
          detail: `no member ${input.to} in this tenant`,
          extensions: { pointer: '/to' },
        });
      const { program } = await this.programs.current(tenant.tenantId);
      const now = this.clock.now();
      const correlationId = correlationIdOf(request);
      const command = { type: 'TransferOut', userId, transferId, to: input.to, points: input.points, fingerprint, program, now } as const;
      const context = { tenantId: tenant.tenantId, correlationId, now };
      // Both halves in one append where the store can; otherwise the sender's half, then the recipient's (and the log finishes it).
      const together = await this.delivery.transferTogether(command, context);
      const outcome = together ?? (await this.wallets.handle(command, context));
      if (!outcome.accepted) throw transferRefused(outcome.rejection, userId);
      if (!together)
        for (const event of outcome.events)
          if (event.type === 'PointsTransferredOut') await this.delivery.deliver(tenant.tenantId, event.data, correlationId);
      const sender = (await this.wallets.state(tenant.tenantId, userId)).state;
      const made = sender.transfersOut.get(transferId)!;
      const recipient = (await this.wallets.state(tenant.tenantId, made.to)).state;
      const status = recipient.lots.has(`transfer/${transferId}`)
        ? 'credited'
        : sender.lots.has(`transfer-returned/${transferId}`)
          ? 'returned'
          : 'pending';
      return { transferId, from: userId, to: made.to, points: made.points, balance: made.balance, status };
    });
  }
}

function transferRefused(rejection: WalletRejection, userId: string): ProblemError {
  switch (rejection.kind) {
    case 'TransfersDisabled':
      return new ProblemError({
        status: 409,
        type: 'transfers-disabled',
        title: 'Transfers are not allowed',
        detail: 'the program has no `transfers` policy: members cannot give each other points',
      });
    case 'TransferLimitExceeded':
      return new ProblemError({
        status: 409,
        type: 'transfer-limit-exceeded',
        title: 'Transfer limit exceeded',
        detail:
          rejection.per === 'transfer'
            ? `a transfer moves at most ${rejection.limit} points`
            : `a member sends at most ${rejection.limit} points a day (${rejection.used} sent today)`,
        extensions: { limit: rejection.limit, per: rejection.per, used: rejection.used },
      });
    case 'InsufficientPoints':
      return new ProblemError({
        status: 409,
        type: 'insufficient-points',
        title: 'Not enough points',
        detail: `${rejection.available} points available, ${rejection.requested} needed (with the balance the program keeps)`,
        extensions: { available: rejection.available, requested: rejection.requested },
      });
    case 'IdempotencyKeyReused':
      return new ProblemError({
        status: 422,
        type: 'idempotency-key-reused',
        title: 'Idempotency-Key already used for another request',
        detail: 'this Idempotency-Key was used for a transfer with another body; send a new key for a new transfer',
      });
    default:
      return unknownMember(userId);
  }
}
