import type { EntityManager } from 'typeorm';
import type { JsonObject } from '#eventstore';
import { isPlaceholder, resolveIdentities, type Identifier, type KnownIdentifier } from './identity.decider';
import { identityKey, profileKey, type KnownIdentities, type StoredIdentity } from './known-identities';

/** A trait value sealed under its subject's key, with the event time that set it. */
export type StoredTraits = Record<string, { v: JsonObject; at: string }>;

interface IdentityState {
  readonly tenantId: string;
  readonly kind: Identifier['kind'];
  readonly value: string;
  profileId: string;
  merges: number;
  /** The merge count in the database, or undefined for an identifier first linked in this batch. */
  readonly storedMerges: number | undefined;
  /** The sealed e-mail of an e-mail identifier linked in this batch. */
  readonly sealedValue: JsonObject | null;
}

interface ProfileState {
  readonly tenantId: string;
  readonly profileId: string;
  userId: string | null;
  /** The userId in the database, or undefined for a profile created in this batch. */
  readonly storedUserId: string | null | undefined;
  mergedInto: string | null;
}

export interface ProfileMerge {
  readonly survivorId: string;
  readonly mergedId: string;
  readonly via: Identifier;
}

export interface BatchMerge extends ProfileMerge {
  readonly tenantId: string;
}

/** Where one message landed and which merges it caused; undefined when it names no identity. */
export type Resolution = { readonly profileId: string; readonly merges: readonly ProfileMerge[] } | undefined;

/**
 * The identity graph as one batch of the profiles projection sees it: every identifier the batch
 * mentions is read in one query up front, then each message is resolved in log order against the
 * in-memory graph (the pure decider makes every decision) and its effects are applied there, so a
 * later message of the batch sees what the earlier ones did. The graph then lists what changed,
 * for the projection to write set-based.
 */
export class BatchIdentityGraph {
  private readonly identities = new Map<string, IdentityState>();
  private readonly profiles = new Map<string, ProfileState>();
  private readonly mergeLog: BatchMerge[] = [];

  private constructor(private readonly maxMergesPerIdentifier: number) {}

  /**
   * Reads what the graph holds for every identifier of the batch: those `known` has from earlier
   * batches from there, the others in one round trip.
   */
  static async load(
    tx: EntityManager,
    wanted: readonly { tenantId: string; identifiers: readonly Identifier[] }[],
    maxMergesPerIdentifier: number,
    known?: KnownIdentities,
  ): Promise<BatchIdentityGraph> {
    const graph = new BatchIdentityGraph(maxMergesPerIdentifier);
    const keys = new Map<string, [string, string, string]>();
    for (const { tenantId, identifiers } of wanted) {
      for (const identifier of identifiers) {
        if (isPlaceholder(identifier.value)) continue;
        const key = identityKey(tenantId, identifier);
        if (graph.identities.has(key) || keys.has(key)) continue;
        const stored = known?.find(tenantId, identifier);
        if (stored) graph.add(stored);
        else keys.set(key, [tenantId, identifier.kind, identifier.value]);
      }
    }
    if (keys.size === 0) return graph;
    const columns = [...keys.values()];
    const rows: {
      tenant_id: string;
      kind: Identifier['kind'];
      value: string;
      profile_id: string;
      user_id: string | null;
      merges: number;
    }[] = await tx.query(
      `SELECT i.tenant_id::text, i.kind, i.value, i.profile_id::text, p.user_id, i.merges
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(tenant_id, kind, value)
       JOIN pulse_identities i ON i.tenant_id = k.tenant_id AND i.kind = k.kind AND i.value = k.value
       JOIN pulse_profiles p ON p.tenant_id = i.tenant_id AND p.profile_id = i.profile_id`,
      [columns.map((c) => c[0]), columns.map((c) => c[1]), columns.map((c) => c[2])],
    );
    for (const row of rows) {
      graph.add({
        tenantId: row.tenant_id,
        kind: row.kind,
        value: row.value,
        profileId: row.profile_id,
        userId: row.user_id,
        merges: row.merges,
      });
    }
    return graph;
  }

  private add(stored: StoredIdentity): void {
    const { tenantId, profileId } = stored;
    this.identities.set(identityKey(tenantId, stored), {
      tenantId,
      kind: stored.kind,
      value: stored.value,
      profileId,
      merges: stored.merges,
      storedMerges: stored.merges,
      sealedValue: null,
    });
    this.profiles.set(profileKey(tenantId, profileId), {
      tenantId,
      profileId,
      userId: stored.userId,
      storedUserId: stored.userId,
      mergedInto: null,
    });
  }

  /**
   * Resolves one message (the identity decider's rules) and applies the events it decides to the
   * in-memory graph. `sealedEmail` is stored with the e-mail identifier if the message links a new one.
   */
  resolve(tenantId: string, identifiers: readonly Identifier[], newProfileId: string, sealedEmail: JsonObject | null): Resolution {
    const known: KnownIdentifier[] = [];
    for (const identifier of identifiers) {
      const state = this.identities.get(identityKey(tenantId, identifier));
      if (!state) continue;
      const profile = this.profile(tenantId, state.profileId);
      known.push({ kind: state.kind, value: state.value, profileId: state.profileId, profileUserId: profile.userId, merges: state.merges });
    }
    let attributedTo: string | undefined;
    const merges: ProfileMerge[] = [];
    for (const event of resolveIdentities({ identifiers, newProfileId, maxMergesPerIdentifier: this.maxMergesPerIdentifier }, known)) {
      switch (event.type) {
        case 'ProfileOpened':
          this.profiles.set(profileKey(tenantId, event.data.profileId), {
            tenantId,
            profileId: event.data.profileId,
            userId: event.data.userId,
            storedUserId: undefined,
            mergedInto: null,
          });
          break;
        case 'ProfileIdentified':
          this.profile(tenantId, event.data.profileId).userId = event.data.userId;
          break;
        case 'IdentifierLinked': {
          const { identifier, profileId } = event.data;
          this.identities.set(identityKey(tenantId, identifier), {
            tenantId,
            kind: identifier.kind,
            value: identifier.value,
            profileId,
            merges: 0,
            storedMerges: undefined,
            sealedValue: identifier.kind === 'email' ? sealedEmail : null,
          });
          break;
        }
        case 'ProfileMergedInto':
          this.merge(tenantId, event.data);
          merges.push(event.data);
          break;
        case 'MergeRefused':
          break;
        case 'MessageAttributed':
          attributedTo = event.data.profileId;
          break;
      }
    }
    return attributedTo === undefined ? undefined : { profileId: attributedTo, merges };
  }

  /** Same effects as the database merge: identifiers and userId move to the survivor. */
  private merge(tenantId: string, merge: ProfileMerge): void {
    for (const state of this.identities.values()) {
      if (state.tenantId === tenantId && state.profileId === merge.mergedId) state.profileId = merge.survivorId;
    }
    this.identities.get(identityKey(tenantId, merge.via))!.merges += 1;
    const survivor = this.profile(tenantId, merge.survivorId);
    const merged = this.profile(tenantId, merge.mergedId);
    survivor.userId ??= merged.userId;
    merged.userId = null;
    merged.mergedInto = merge.survivorId;
    this.mergeLog.push({ tenantId, ...merge });
  }

  /** The profile a profile's data ends up on once every merge of the batch is applied. */
  survivorOf(tenantId: string, profileId: string): string {
    let current = this.profile(tenantId, profileId);
    while (current.mergedInto) current = this.profile(tenantId, current.mergedInto);
    return current.profileId;
  }

  /** Merges in the order they were decided. */
  get merges(): readonly BatchMerge[] {
    return this.mergeLog;
  }

  /** Profiles this batch created, as they stand at its end. */
  createdProfiles(): { tenantId: string; profileId: string; userId: string | null; mergedInto: string | null }[] {
    return [...this.profiles.values()].filter((p) => p.storedUserId === undefined);
  }

  /** Stored profiles that kept their identity and gained a userId in this batch. */
  changedUserIds(): { tenantId: string; profileId: string; userId: string }[] {
    return [...this.profiles.values()]
      .filter((p) => p.storedUserId !== undefined && p.mergedInto === null && p.userId !== null && p.userId !== p.storedUserId)
      .map((p) => ({ tenantId: p.tenantId, profileId: p.profileId, userId: p.userId! }));
  }

  /** Identifiers first linked in this batch, on their final profile. */
  linkedIdentities(): {
    tenantId: string;
    kind: string;
    value: string;
    profileId: string;
    merges: number;
    sealedValue: JsonObject | null;
  }[] {
    return [...this.identities.values()]
      .filter((i) => i.storedMerges === undefined)
      .map((i) => ({
        tenantId: i.tenantId,
        kind: i.kind,
        value: i.value,
        profileId: this.survivorOf(i.tenantId, i.profileId),
        merges: i.merges,
        sealedValue: i.sealedValue,
      }));
  }

  /** Every identifier of the graph as the batch leaves it stored, on its final profile. */
  storedState(): StoredIdentity[] {
    return [...this.identities.values()].map((i) => {
      const profileId = this.survivorOf(i.tenantId, i.profileId);
      return {
        tenantId: i.tenantId,
        kind: i.kind,
        value: i.value,
        profileId,
        userId: this.profile(i.tenantId, profileId).userId,
        merges: i.merges,
      };
    });
  }

  /** Stored identifiers whose merge count grew in this batch. */
  changedMergeCounts(): { tenantId: string; kind: string; value: string; merges: number }[] {
    return [...this.identities.values()]
      .filter((i) => i.storedMerges !== undefined && i.merges !== i.storedMerges)
      .map((i) => ({ tenantId: i.tenantId, kind: i.kind, value: i.value, merges: i.merges }));
  }

  private profile(tenantId: string, profileId: string): ProfileState {
    const profile = this.profiles.get(profileKey(tenantId, profileId));
    if (!profile) throw new Error(`profile ${profileId} is not in the batch's graph`);
    return profile;
  }
}

/** Traits merge by event time: a value set later wins, whichever message arrived last. */
export function mergeTraits(into: StoredTraits, from: StoredTraits): StoredTraits {
  const merged: StoredTraits = { ...into };
  for (const [name, value] of Object.entries(from)) {
    const existing = merged[name];
    if (!existing || existing.at <= value.at) merged[name] = value;
  }
  return merged;
}
