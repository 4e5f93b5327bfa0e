import { accept, type Decider } from '#cqrs';

/**
 * Identity resolution rules, as a decider: which profile an incoming message belongs to, which
 * identifiers it links there, and which profiles it merges. No I/O and no clock. The state is the
 * part of the identity graph the message's identifiers reach; the profiles projection holds the
 * graph (tables, and an in-memory copy per batch) and applies the decided events to it.
 */

export type IdentityKind = 'userId' | 'email' | 'anonymousId';

export interface Identifier {
  readonly kind: IdentityKind;
  /** userId and anonymousId as sent; an e-mail's blind index. */
  readonly value: string;
}

/** What the graph holds for one identifier of the message. */
export interface KnownIdentifier extends Identifier {
  readonly profileId: string;
  /** The userId of the profile the identifier belongs to, if that profile has one. */
  readonly profileUserId: string | null;
  /** How many merges this identifier has caused so far. */
  readonly merges: number;
}

export interface ResolveIdentities {
  readonly type: 'ResolveIdentities';
  /** The message's identifiers, placeholders included (the rules drop them). */
  readonly identifiers: readonly Identifier[];
  /** Id for a profile this message creates (ids come from outside, like time). */
  readonly newProfileId: string;
  readonly maxMergesPerIdentifier: number;
}

export type MergeRefusal = 'different-user' | 'identifier-limit';

/** What resolving one message does to the graph, in the order it happens. */
export type IdentityEvent =
  | { readonly type: 'ProfileOpened'; readonly data: { readonly profileId: string; readonly userId: string | null } }
  | { readonly type: 'IdentifierLinked'; readonly data: { readonly profileId: string; readonly identifier: Identifier } }
  | { readonly type: 'ProfileIdentified'; readonly data: { readonly profileId: string; readonly userId: string } }
  | {
      readonly type: 'ProfileMergedInto';
      readonly data: { readonly mergedId: string; readonly survivorId: string; readonly via: Identifier };
    }
  | {
      readonly type: 'MergeRefused';
      readonly data: { readonly identifier: Identifier; readonly profileId: string; readonly reason: MergeRefusal };
    }
  | { readonly type: 'MessageAttributed'; readonly data: { readonly profileId: string } };

/** The graph as far as the rules need it: profiles' userIds and identifiers' profiles and merge counts. */
export interface IdentityGraphState {
  readonly profileUserIds: ReadonlyMap<string, string | null>;
  readonly identifiers: ReadonlyMap<string, { readonly identifier: Identifier; readonly profileId: string; readonly merges: number }>;
}

const PLACEHOLDERS = new Set([
  '',
  'null',
  'undefined',
  'nil',
  'none',
  'anonymous',
  'anon',
  'unknown',
  'guest',
  '0',
  '-1',
  'nan',
  'false',
  'true',
  '[object object]',
  'n/a',
  'na',
  '00000000-0000-0000-0000-000000000000',
]);

/** Values SDKs send when they have no id: never identities, or they would glue strangers together. */
export function isPlaceholder(value: string): boolean {
  const normalised = value.trim().toLowerCase();
  return PLACEHOLDERS.has(normalised) || /^0+$/.test(normalised) || /^-+$/.test(normalised);
}

const STRENGTH: Record<IdentityKind, number> = { userId: 0, email: 1, anonymousId: 2 };

export const identityDecider: Decider<ResolveIdentities, IdentityEvent, IdentityGraphState, never> = {
  initialState: () => ({ profileUserIds: new Map(), identifiers: new Map() }),
  evolve(state, event) {
    const profileUserIds = new Map(state.profileUserIds);
    const identifiers = new Map(state.identifiers);
    switch (event.type) {
      case 'ProfileOpened':
        profileUserIds.set(event.data.profileId, event.data.userId);
        break;
      case 'ProfileIdentified':
        profileUserIds.set(event.data.profileId, event.data.userId);
        break;
      case 'IdentifierLinked':
        identifiers.set(keyOf(event.data.identifier), { identifier: event.data.identifier, profileId: event.data.profileId, merges: 0 });
        break;
      case 'ProfileMergedInto': {
        const { mergedId, survivorId, via } = event.data;
        for (const [key, entry] of identifiers) if (entry.profileId === mergedId) identifiers.set(key, { ...entry, profileId: survivorId });
        const viaEntry = identifiers.get(keyOf(via));
        if (viaEntry) identifiers.set(keyOf(via), { ...viaEntry, merges: viaEntry.merges + 1 });
        profileUserIds.set(survivorId, profileUserIds.get(survivorId) ?? profileUserIds.get(mergedId) ?? null);
        profileUserIds.set(mergedId, null);
        break;
      }
      default:
        return state;
    }
    return { profileUserIds, identifiers };
  },
  decide(command, state) {
    const known: KnownIdentifier[] = [];
    for (const identifier of command.identifiers) {
      const entry = state.identifiers.get(keyOf(identifier));
      if (entry)
        known.push({
          ...identifier,
          profileId: entry.profileId,
          profileUserId: state.profileUserIds.get(entry.profileId) ?? null,
          merges: entry.merges,
        });
    }
    return accept(...resolveIdentities(command, known));
  },
};

/**
 * The rules themselves, given what the graph knows of the message's identifiers: the projection
 * calls this directly on its batch graph, which has that list at hand, and applies the events.
 *
 * - The message lands on the profile of its strongest identifier (userId, then e-mail, then
 *   anonymousId) that does not belong to another user, or on a new profile.
 * - Its identifiers new to the graph are linked there; a profile without a userId gains the message's.
 * - Other profiles its identifiers reach are merged into that one, except a profile of a different
 *   user (never merged) and through an identifier that has caused its share of merges already (a
 *   shared device or kiosk must not glue strangers together).
 */
export function resolveIdentities(command: Omit<ResolveIdentities, 'type'>, known: readonly KnownIdentifier[]): IdentityEvent[] {
  const identifiers = dedupe(command.identifiers.filter((identifier) => !isPlaceholder(identifier.value))).sort(
    (a, b) => STRENGTH[a.kind] - STRENGTH[b.kind],
  );
  if (identifiers.length === 0) return [];
  const knownByKey = new Map(known.map((entry) => [keyOf(entry), entry]));
  const userId = identifiers.find((identifier) => identifier.kind === 'userId')?.value ?? null;
  const matches = identifiers.map((identifier) => knownByKey.get(keyOf(identifier))).filter((entry) => entry !== undefined);

  const compatible = (entry: KnownIdentifier) => userId === null || entry.profileUserId === null || entry.profileUserId === userId;
  const anchor = matches.find(compatible);
  const profileId = anchor?.profileId ?? command.newProfileId;
  const events: IdentityEvent[] = [];
  if (!anchor) events.push({ type: 'ProfileOpened', data: { profileId, userId } });
  else if (userId !== null && anchor.profileUserId === null) events.push({ type: 'ProfileIdentified', data: { profileId, userId } });
  for (const identifier of identifiers) {
    if (!knownByKey.has(keyOf(identifier))) events.push({ type: 'IdentifierLinked', data: { profileId, identifier } });
  }

  let survivorUserId = anchor?.profileUserId ?? userId;
  const absorbed = new Set<string>([profileId]);
  for (const entry of matches) {
    if (absorbed.has(entry.profileId)) continue;
    const identifier = { kind: entry.kind, value: entry.value };
    if (entry.profileUserId !== null && survivorUserId !== null && entry.profileUserId !== survivorUserId) {
      events.push({ type: 'MergeRefused', data: { identifier, profileId: entry.profileId, reason: 'different-user' } });
    } else if (entry.merges >= command.maxMergesPerIdentifier) {
      events.push({ type: 'MergeRefused', data: { identifier, profileId: entry.profileId, reason: 'identifier-limit' } });
    } else {
      absorbed.add(entry.profileId);
      events.push({ type: 'ProfileMergedInto', data: { mergedId: entry.profileId, survivorId: profileId, via: identifier } });
      survivorUserId ??= entry.profileUserId;
    }
  }
  events.push({ type: 'MessageAttributed', data: { profileId } });
  return events;
}

export function keyOf(identifier: Identifier): string {
  return `${identifier.kind}\n${identifier.value}`;
}

function dedupe(identifiers: Identifier[]): Identifier[] {
  const seen = new Map<string, Identifier>();
  for (const identifier of identifiers) seen.set(keyOf(identifier), identifier);
  return [...seen.values()];
}
