import { Injectable } from '@nestjs/common';
import type { Position } from '#eventstore';
import { CommandRunner } from '#cqrs';
import { accountDecider } from '../account/account.decider';
import { accountStreamFor, emailReservationStreamFor } from '#contracts';
import { reservationDecider } from '../account/email-reservation';
import { Clock, PersonalDataEraser, type TenantRef } from '../register.ports';

export class EraseUser {
  constructor(
    readonly tenant: TenantRef,
    readonly userId: string,
    readonly requestedBy: 'user' | 'tenant',
    readonly correlationId: string,
  ) {}
}

export type EraseUserOutcome =
  { readonly erased: true; readonly position?: Position } | { readonly erased: false; readonly reason: 'AccountNotFound' };

/**
 * GDPR erasure: record that the person was erased (the event carries nothing personal, so every
 * service can still read it and forget them), free their e-mail address, then destroy their key so
 * every event that held their data reads back as erased. Each step is safe to repeat, so a retry
 * after a crash finishes the job.
 */
@Injectable()
export class EraseUserHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly eraser: PersonalDataEraser,
    private readonly clock: Clock,
  ) {}

  async execute({ tenant, userId, requestedBy, correlationId }: EraseUser): Promise<EraseUserOutcome> {
    const now = this.clock.now();
    const context = { tenantId: tenant.tenantId, correlationId, now };
    const account = accountStreamFor(tenant.tenantId, userId);
    const outcome = await this.runner.handle({
      streamName: account,
      decider: accountDecider,
      command: { type: 'EraseUser', requestedBy, now },
      context,
    });
    if (!outcome.accepted) return { erased: false, reason: 'AccountNotFound' };
    const { state } = await this.runner.load(account, accountDecider);
    if (state.emailIndex) {
      await this.runner.handle({
        streamName: emailReservationStreamFor(tenant.tenantId, state.emailIndex),
        decider: reservationDecider,
        command: { type: 'ReleaseEmail', userId, now },
        context,
      });
    }
    await this.eraser.forget(tenant.tenantId, userId);
    return { erased: true, position: outcome.position };
  }
}
