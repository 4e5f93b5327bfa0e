import { Injectable } from '@nestjs/common';
import { CommandRunner, type CommandOutcome } from '#cqrs';
import { accountDecider, type AccountCommand } from '../account/account.decider';
import { accountStreamFor, type AccountEvent } from '#contracts';
import type { AccountRejection } from '../account/account.state';
import { Clock, type TenantRef } from '../register.ports';

type SelfServiceCommand = Extract<AccountCommand, { type: 'UpdateProfile' | 'GrantConsent' | 'WithdrawConsent' | 'RequestEmailChange' }>;

/** A signed-in person changing their own profile or consents, or asking to change their address. */
export class ChangeOwnAccount {
  constructor(
    readonly tenant: TenantRef,
    readonly userId: string,
    readonly change: (now: Date) => SelfServiceCommand,
    readonly correlationId: string,
  ) {}
}

@Injectable()
export class ChangeOwnAccountHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly clock: Clock,
  ) {}

  execute({ tenant, userId, change, correlationId }: ChangeOwnAccount): Promise<CommandOutcome<AccountEvent, AccountRejection>> {
    const now = this.clock.now();
    return this.runner.handle({
      streamName: accountStreamFor(tenant.tenantId, userId),
      decider: accountDecider,
      command: change(now),
      context: { tenantId: tenant.tenantId, correlationId, now },
      // Profile and consent changes are re-decided on the newer state: last writer wins per field.
      retriesOnConflict: 3,
    });
  }
}
