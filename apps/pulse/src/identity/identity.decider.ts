/**
 * Identity resolution rules, pure: which profile an incoming message belongs to, which identifiers
 * it links there, and which profiles it merges. No I/O and no clock; the projection feeds it what
 * the identity graph knows about the message's identifiers and applies the decision.
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
  /** The message's identifiers, placeholders included (the rules drop them). */
  readonly identifiers: readonly Identifier[];
  readonly known: readonly KnownIdentifier[];
  /** Id for a profile this message creates (ids come from outside, like time). */
  readonly newProfileId: string;
  readonly maxMergesPerIdentifier: number;
}

export interface ProfileMerge {
  readonly survivorId: string;
  readonly mergedId: string;
  readonly via: Identifier;
}

export type IdentityDecision =
  | { readonly outcome: 'unidentified' }
  | {
      readonly outcome: 'resolved';
      readonly profileId: string;
      readonly created: boolean;
      /** Set when the profile gains a userId with this message. */
      readonly userId: string | null;
      /** Identifiers new to the graph, now pointing at the profile. */
      readonly linked: readonly Identifier[];
      readonly merges: readonly ProfileMerge[];
      /** Identifiers that point elsewhere and stay there (rules refused the merge). */
      readonly refused: readonly { readonly identifier: Identifier; readonly reason: 'different-user' | 'identifier-limit' }[];
    };

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

export function resolveIdentities(command: ResolveIdentities): IdentityDecision {
  const identifiers = dedupe(command.identifiers.filter((identifier) => !isPlaceholder(identifier.value))).sort(
    (a, b) => STRENGTH[a.kind] - STRENGTH[b.kind],
  );
  if (identifiers.length === 0) return { outcome: 'unidentified' };
  const knownByKey = new Map(command.known.map((known) => [keyOf(known), known]));
  const userId = identifiers.find((identifier) => identifier.kind === 'userId')?.value ?? null;
  const matches = identifiers.map((identifier) => knownByKey.get(keyOf(identifier))).filter((known) => known !== undefined);

  // The survivor: the strongest identifier's profile that does not belong to another user.
  const compatible = (known: KnownIdentifier) => userId === null || known.profileUserId === null || known.profileUserId === userId;
  const anchor = matches.find(compatible);
  const profileId = anchor?.profileId ?? command.newProfileId;
  let survivorUserId = anchor?.profileUserId ?? null;
  const gainsUserId = userId !== null && survivorUserId === null ? userId : null;
  survivorUserId ??= userId;

  const merges: ProfileMerge[] = [];
  const refused: { identifier: Identifier; reason: 'different-user' | 'identifier-limit' }[] = [];
  const absorbed = new Set<string>([profileId]);
  for (const known of matches) {
    if (absorbed.has(known.profileId)) continue;
    const identifier = { kind: known.kind, value: known.value };
    if (known.profileUserId !== null && survivorUserId !== null && known.profileUserId !== survivorUserId) {
      refused.push({ identifier, reason: 'different-user' });
    } else if (known.merges >= command.maxMergesPerIdentifier) {
      refused.push({ identifier, reason: 'identifier-limit' });
    } else {
      absorbed.add(known.profileId);
      merges.push({ survivorId: profileId, mergedId: known.profileId, via: identifier });
      if (known.profileUserId !== null) survivorUserId = known.profileUserId;
    }
  }
  const linked = identifiers.filter((identifier) => !knownByKey.has(keyOf(identifier)));
  const mergedUserId = merges.length > 0 && gainsUserId === null && (anchor?.profileUserId ?? null) === null ? survivorUserId : null;
  return {
    outcome: 'resolved',
    profileId,
    created: anchor === undefined,
    userId: gainsUserId ?? mergedUserId,
    linked,
    merges,
    refused,
  };
}

function keyOf(identifier: Identifier): string {
  return `${identifier.kind}\n${identifier.value}`;
}

function dedupe(identifiers: Identifier[]): Identifier[] {
  const seen = new Map<string, Identifier>();
  for (const identifier of identifiers) seen.set(keyOf(identifier), identifier);
  return [...seen.values()];
}
