import { Injectable } from '@nestjs/common';
import type { Position } from '#eventstore';
import { CommandRunner } from '#cqrs';
import { accountDecider } from '../account/account.decider';
import type { AccountRejection } from '../account/account.state';
import { accountStreamFor } from '#contracts';
import { parseToken } from '../account/tokens';
import { Clock, type TenantRef } from '../register.ports';

export class VerifyEmail {
  constructor(
    readonly tenant: TenantRef,
    readonly token: string,
    readonly correlationId: string,
  ) {}
}

export type VerifyEmailOutcome =
  | { readonly verified: true; readonly userId: string; readonly position?: Position }
  | { readonly verified: false; readonly rejection: AccountRejection };

@Injectable()
export class VerifyEmailHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly clock: Clock,
  ) {}

  async execute({ tenant, token, correlationId }: VerifyEmail): Promise<VerifyEmailOutcome> {
    const parsed = parseToken(token);
    if (!parsed) return { verified: false, rejection: { kind: 'InvalidToken' } };
    const now = this.clock.now();
    const outcome = await this.runner.handle({
      streamName: accountStreamFor(tenant.tenantId, parsed.userId),
      decider: accountDecider,
      command: { type: 'VerifyEmail', tokenHash: parsed.tokenHash, now },
      context: { tenantId: tenant.tenantId, correlationId, now },
      // Two clicks on one link: the second re-decides on the verified state and is refused.
      retriesOnConflict: 1,
    });
    if (!outcome.accepted) {
      const rejection: AccountRejection = outcome.rejection.kind === 'AccountNotFound' ? { kind: 'InvalidToken' } : outcome.rejection;
      return { verified: false, rejection };
    }
    return { verified: true, userId: parsed.userId, position: outcome.position };
  }
}
