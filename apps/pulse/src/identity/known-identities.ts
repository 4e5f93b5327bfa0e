import { ExpiringLruCache } from '#platform';
import type { Identifier } from './identity.decider';

/** A stored identifier as the profiles projection reads it: its profile, that profile's userId, its merges. */
export interface StoredIdentity {
  readonly tenantId: string;
  readonly kind: Identifier['kind'];
  readonly value: string;
  readonly profileId: string;
  readonly userId: string | null;
  readonly merges: number;
}

/**
 * The identity graph as this runner's committed batches left it, for the identifiers they held, so
 * that a batch reads from the database only the identifiers it has not seen lately: on a steady
 * stream of known people, none (that read was the projection's second largest statement).
 *
 * Sound because one runner applies the projection at a time: a batch commits only from the
 * checkpoint this runner's previous batch left (ProjectionRunner.advanceCheckpoint), so nothing
 * else wrote the graph in between, and the runner calls `reset` whenever it starts again from a
 * stored checkpoint. What a batch learns is kept only once it commits. A merge or an erasure moves
 * or deletes rows the batch never read, so either forgets everything, and after an erasure the
 * rest of its batch reads the database (the cache no longer matches what the transaction sees).
 */
export class KnownIdentities {
  private readonly identities: ExpiringLruCache<{ profileId: string; merges: number }>;
  private readonly userIds: ExpiringLruCache<{ userId: string | null }>;
  private staged = nothingStaged();

  constructor(maxEntries: number) {
    this.identities = new ExpiringLruCache(maxEntries, Number.POSITIVE_INFINITY);
    this.userIds = new ExpiringLruCache(maxEntries, Number.POSITIVE_INFINITY);
  }

  /** The identifier as stored, if a committed batch left it known and this batch forgot nothing yet. */
  find(tenantId: string, identifier: Identifier): StoredIdentity | undefined {
    if (this.staged.forget) return undefined;
    const identity = this.identities.get(identityKey(tenantId, identifier));
    if (!identity) return undefined;
    const profile = this.userIds.get(profileKey(tenantId, identity.profileId));
    if (!profile) return undefined;
    return {
      tenantId,
      kind: identifier.kind,
      value: identifier.value,
      profileId: identity.profileId,
      userId: profile.userId,
      merges: identity.merges,
    };
  }

  /** Identifiers as the current batch leaves them (profiles merged in it excepted: see forgetAll). */
  learn(identities: readonly StoredIdentity[]): void {
    this.staged.learnt.push(...identities);
  }

  /** The current batch moved or deleted rows it did not read: nothing known before it holds. */
  forgetAll(): void {
    this.staged = { forget: true, learnt: [] };
  }

  /** The current batch committed. */
  committed(): void {
    const { forget, learnt } = this.staged;
    this.staged = nothingStaged();
    if (forget) this.clear();
    for (const identity of learnt) {
      this.identities.set(identityKey(identity.tenantId, identity), { profileId: identity.profileId, merges: identity.merges });
      this.userIds.set(profileKey(identity.tenantId, identity.profileId), { userId: identity.userId });
    }
  }

  /** Starting again from a stored checkpoint: another runner may have written since. */
  reset(): void {
    this.staged = nothingStaged();
    this.clear();
  }

  private clear(): void {
    this.identities.clear();
    this.userIds.clear();
  }
}

function nothingStaged(): { forget: boolean; learnt: StoredIdentity[] } {
  return { forget: false, learnt: [] };
}

export function identityKey(tenantId: string, identifier: { kind: string; value: string }): string {
  return `${tenantId.toLowerCase()}\n${identifier.kind}\n${identifier.value}`;
}

export function profileKey(tenantId: string, profileId: string): string {
  return `${tenantId.toLowerCase()}\n${profileId.toLowerCase()}`;
}
