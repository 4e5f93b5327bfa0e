import { Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { CommandRunner } from '#cqrs';
import { hashKey, tenantStreamFor } from '#contracts';
import { Clock } from '../register.ports';
import { ReadModels } from '../read-models';
import { tenantDecider } from './tenant.decider';
import { newTenantKey } from './tenant-keys';

export class CreateTenant {
  constructor(
    readonly slug: string,
    readonly name: string,
    readonly correlationId: string,
  ) {}
}

export type CreateTenantOutcome =
  | {
      readonly created: true;
      readonly tenantId: string;
      readonly slug: string;
      readonly name: string;
      readonly apiKey: string;
      readonly writeKey: string;
      readonly createdAt: Date;
    }
  | { readonly created: false; readonly reason: 'SlugTaken' };

@Injectable()
export class CreateTenantHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly readModels: ReadModels,
    private readonly clock: Clock,
  ) {}

  async execute({ slug, name, correlationId }: CreateTenant): Promise<CreateTenantOutcome> {
    const now = this.clock.now();
    const tenantId = uuidv7();
    const apiKey = newTenantKey('api');
    const writeKey = newTenantKey('write');
    const outcome = await this.runner.handle({
      streamName: tenantStreamFor(slug),
      decider: tenantDecider,
      command: { type: 'CreateTenant', tenantId, slug, name, apiKeyHash: hashKey(apiKey), writeKeyHash: hashKey(writeKey), now },
      context: { tenantId, correlationId, now },
      retriesOnConflict: 1,
    });
    if (!outcome.accepted) return { created: false, reason: 'SlugTaken' };
    // The caller's next request is usually under /t/{slug}: answer once the tenant can be found there.
    await this.readModels.caughtUpWith(outcome.position);
    return { created: true, tenantId, slug, name, apiKey, writeKey, createdAt: now };
  }
}
