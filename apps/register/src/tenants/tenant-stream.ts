import { Injectable } from '@nestjs/common';
import { CommandRunner, fold } from '#cqrs';
import { tenantStreamFor } from '#contracts';
import { ReadModels } from '../read-models';
import { Clock } from '../register.ports';
import type { TenantRecord } from './tenant-directory';
import { tenantDecider, type TenantCommand, type TenantRejection, type TenantState } from './tenant.decider';

export type TenantDecisionOutcome =
  { readonly accepted: true; readonly state: TenantState } | { readonly accepted: false; readonly rejection: TenantRejection };

/** A tenant's stream (register.tenant-{slug}): its state as the stream has it, and changes decided on it. */
@Injectable()
export class TenantStream {
  constructor(
    private readonly runner: CommandRunner,
    private readonly readModels: ReadModels,
    private readonly clock: Clock,
  ) {}

  /** The state as the stream has it: a read never lags a change the caller just made. */
  async load(slug: string): Promise<TenantState | undefined> {
    const { state } = await this.runner.load(tenantStreamFor(slug), tenantDecider);
    return state.exists ? state : undefined;
  }

  /**
   * Read, decide, append; then wait for register's read model, so the caller's next request to
   * register sees the change. Safe to retry on a conflict: the rules are re-checked on the newer state.
   */
  async decide(
    tenant: TenantRecord,
    correlationId: string,
    command: (now: Date, state: TenantState) => TenantCommand,
  ): Promise<TenantDecisionOutcome> {
    let decidedOn: TenantState | undefined;
    const now = this.clock.now();
    const outcome = await this.runner.handle({
      streamName: tenantStreamFor(tenant.slug),
      decider: tenantDecider,
      command: async (state: TenantState) => {
        decidedOn = state;
        return command(now, state);
      },
      context: { tenantId: tenant.tenantId, correlationId, now },
    });
    if (!outcome.accepted) return outcome;
    await this.readModels.caughtUpWith(outcome.position);
    return { accepted: true, state: fold(tenantDecider, outcome.events, decidedOn!) };
  }
}
