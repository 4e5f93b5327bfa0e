import { Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { hashKey, keyById, type TenantKey, type TenantKeyKind, type TenantKeyRing } from '#contracts';
import { TenantKeyLookup } from '#tenant-keys';
import type { TenantRecord } from './tenant-directory';
import { newTenantKey } from './tenant-keys';
import type { TenantCommand, TenantRejection, TenantState } from './tenant.decider';
import { TenantStream } from './tenant-stream';

/** A key just issued, with the secret itself: the one time anyone sees it. */
export interface IssuedKey {
  readonly key: TenantKey;
  readonly secret: string;
}

export type KeyOutcome<T> =
  { readonly accepted: true; readonly value: T } | { readonly accepted: false; readonly rejection: TenantRejection };

/**
 * Issues, rotates and revokes a tenant's keys on its stream. Answers once register's own read model
 * has the change, so the caller's next request to register sees it; pulse and rewards learn it
 * through their projections (see #tenant-keys for how soon a revocation is honoured there).
 */
@Injectable()
export class TenantKeysHandler {
  constructor(
    private readonly stream: TenantStream,
    private readonly keys: TenantKeyLookup,
  ) {}

  /** The ring as the stream has it: a list never lags a change the caller just made. */
  async ring(slug: string): Promise<TenantKeyRing | undefined> {
    return (await this.stream.load(slug))?.ring;
  }

  async issue(tenant: TenantRecord, kind: TenantKeyKind, label: string | null, correlationId: string): Promise<KeyOutcome<IssuedKey>> {
    const secret = newTenantKey(kind);
    const keyId = uuidv7();
    const outcome = await this.decide(tenant, correlationId, (now) => ({
      type: 'IssueTenantKey',
      keyId,
      kind,
      keyHash: hashKey(secret),
      label,
      now,
    }));
    return outcome.accepted ? { accepted: true, value: { key: keyById(outcome.ring, keyId)!, secret } } : outcome;
  }

  async rotate(
    tenant: TenantRecord,
    keyId: string,
    overlapSeconds: number,
    correlationId: string,
  ): Promise<KeyOutcome<IssuedKey & { replaced: TenantKey }>> {
    let secret = '';
    const newKeyId = uuidv7();
    const outcome = await this.decide(tenant, correlationId, (now, state) => {
      // The new key is of the old one's kind, known only from the state the decision is taken on.
      secret = newTenantKey(keyById(state.ring, keyId)?.kind ?? 'api');
      return { type: 'RotateTenantKey', keyId, overlapSeconds, newKeyId, newKeyHash: hashKey(secret), now };
    });
    if (!outcome.accepted) return outcome;
    const replaced = keyById(outcome.ring, keyId)!;
    // The old key's end is in this replica's table now; its cached entry without one goes.
    this.keys.forget(replaced.keyHash);
    return { accepted: true, value: { key: keyById(outcome.ring, newKeyId)!, secret, replaced } };
  }

  async revoke(tenant: TenantRecord, keyId: string, correlationId: string): Promise<KeyOutcome<TenantKey>> {
    const outcome = await this.decide(tenant, correlationId, (now) => ({ type: 'RevokeTenantKey', keyId, now }));
    if (!outcome.accepted) return outcome;
    const revoked = keyById(outcome.ring, keyId)!;
    this.keys.forget(revoked.keyHash);
    return { accepted: true, value: revoked };
  }

  private async decide(
    tenant: TenantRecord,
    correlationId: string,
    command: (now: Date, state: TenantState) => TenantCommand,
  ): Promise<{ accepted: true; ring: TenantKeyRing } | { accepted: false; rejection: TenantRejection }> {
    const outcome = await this.stream.decide(tenant, correlationId, command);
    return outcome.accepted ? { accepted: true, ring: outcome.state.ring } : outcome;
  }
}
