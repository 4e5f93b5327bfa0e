import type { EventEnvelope, EventOf } from '#cqrs';
import type { JsonObject } from '#eventstore';
import { SEALED_FIELD } from '#personal-data';
import {
  AUDIENCE_SOURCE,
  erasureIdentitiesOf,
  trackingSubject,
  type AccountEvent,
  type ErasureEvent,
  type ErasureIdentities,
  type LoginSucceeded,
  type TrackingEvent,
  type TrackingMessage,
} from '#contracts';
import type { Identifier } from './identity.decider';

/** What one message (tracked, or learnt from register or login) tells the identity graph. */
export interface Sighting {
  readonly messageId: string;
  readonly kind: string;
  readonly name: string | null;
  readonly userId: string | null;
  readonly anonymousIds: readonly string[];
  readonly email: string | null;
  /** Whose key seals what the profile keeps of this message. */
  readonly subject: string;
  readonly occurredAt: string;
  readonly receivedAt: string;
  readonly properties: JsonObject | null;
  readonly traits: JsonObject | null;
  /**
   * The message's personal fields as the ingest sealed them, for a call without traits: the
   * profile keeps them as they are instead of opening and sealing its properties again.
   */
  readonly sealedFields?: JsonObject;
  /** A `group` call: the account it names and the account's traits (not the person's). */
  readonly group?: { readonly id: string; readonly traits: JsonObject | null };
  /** History moved in through /v1/import: it builds the profile, but starts nothing live (audience messages it causes are history too). */
  readonly historical?: boolean;
  /** An Audience Entered/Exited message pulse wrote itself: it counts towards no computed trait, so no audience feeds on its own output. */
  readonly computed?: boolean;
  /** Which kind of source sent it: register's and login's events are pulse's own servers' word. */
  readonly sourceKind?: 'client' | 'server';
}

/**
 * Someone is to be forgotten: register erased an account (UserErased), or an erasure request
 * names tracked identities (ErasureRequested, which pulse then reports done).
 */
export interface Erasure {
  readonly identities: ErasureIdentities;
  /** The request to report done, when it came from one. */
  readonly erasureId?: string;
}

/** The login service's stream prefix for sign-in attempts (pulse reads only LoginSucceeded there). */
export const SIGN_IN_STREAM_PREFIX = 'login.signin-';

type SignIn = EventOf<typeof LoginSucceeded>;
export type ProfileInputEvent = TrackingEvent | AccountEvent | SignIn | ErasureEvent;

/**
 * What an event means for profiles: a sighting to resolve and record, an erasure, or nothing.
 * An erased person's events replay with their personal fields gone; they belong to no one.
 */
export function interpret(envelope: EventEnvelope): Sighting | Erasure | undefined {
  if (envelope.erased) return undefined;
  const event = envelope.event as ProfileInputEvent;
  switch (event.type) {
    case 'MessageReceived':
      return fromTracking(event.data);
    case 'UserRegistered':
      return event.data.email ? fromRegistration(envelope, event.data, 'Signed Up') : undefined;
    case 'UserImported':
      // Moved in from another system by the tenant: the same identify, under its own name.
      return event.data.email ? fromRegistration(envelope, event.data, 'Imported') : undefined;
    case 'EmailChanged':
      // The person confirmed a new address in register: an identify with it, so the profile's e-mail follows.
      return event.data.email ? fromEmailChange(envelope, event.data) : undefined;
    case 'LoginSucceeded':
      return fromSignIn(envelope, event.data);
    case 'UserErased':
      return { identities: { userIds: [event.data.userId], anonymousIds: [], emailIndexes: [] } };
    case 'ErasureRequested': {
      const identities = erasureIdentitiesOf(event.data as unknown as JsonObject);
      return identities ? { identities, erasureId: event.data.erasureId } : undefined;
    }
    default:
      return undefined;
  }
}

export function isErasure(meaning: Sighting | Erasure): meaning is Erasure {
  return !('messageId' in meaning);
}

function fromTracking(message: TrackingMessage): Sighting {
  const sealed = (message as unknown as JsonObject)[SEALED_FIELD];
  if (isJsonObject(sealed)) {
    return {
      messageId: message.messageId,
      kind: message.kind,
      name: nameOf(message),
      userId: message.userId,
      anonymousIds: anonymousIdsOf(message),
      email: null,
      subject: trackingSubject(message as unknown as JsonObject),
      occurredAt: message.timestamp,
      receivedAt: message.receivedAt,
      properties: null,
      traits: null,
      sealedFields: sealed,
      ...groupOf(message, null),
      ...liveness(message),
    };
  }
  const contextTraits = message.context?.traits;
  const traits = { ...(isJsonObject(contextTraits) ? contextTraits : {}), ...(message.kind === 'identify' ? (message.traits ?? {}) : {}) };
  const email = typeof traits.email === 'string' && traits.email.includes('@') ? traits.email : null;
  return {
    messageId: message.messageId,
    kind: message.kind,
    name: nameOf(message),
    userId: message.userId,
    anonymousIds: anonymousIdsOf(message),
    email,
    subject: trackingSubject(message as unknown as JsonObject),
    occurredAt: message.timestamp,
    receivedAt: message.receivedAt,
    properties: message.properties ?? null,
    traits: Object.keys(traits).length > 0 ? traits : null,
    ...groupOf(message, message.traits ?? null),
    ...liveness(message),
  };
}

function liveness(message: TrackingMessage): Pick<Sighting, 'historical' | 'computed' | 'sourceKind'> {
  return {
    historical: message.historical === true,
    computed: message.source?.keyId === AUDIENCE_SOURCE.keyId,
    // As rewards reads it: only a message that says so came from a server source.
    sourceKind: message.source?.kind === 'server' ? 'server' : 'client',
  };
}

function groupOf(message: TrackingMessage, traits: JsonObject | null): Pick<Sighting, 'group'> {
  if (message.kind !== 'group' || typeof message.groupId !== 'string') return {};
  return { group: { id: message.groupId, traits: traits && Object.keys(traits).length > 0 ? traits : null } };
}

function nameOf(message: TrackingMessage): string | null {
  if (message.kind === 'track') return message.event ?? null;
  return message.kind === 'page' || message.kind === 'screen' ? (message.name ?? null) : null;
}

function anonymousIdsOf(message: TrackingMessage): string[] {
  return [message.anonymousId, message.kind === 'alias' ? message.previousId : undefined].filter(
    (id): id is string => typeof id === 'string',
  );
}

/** A sign-up (or an import) is an identify with the person's userId, e-mail and name. */
function fromRegistration(
  envelope: EventEnvelope,
  data: Extract<AccountEvent, { type: 'UserRegistered' | 'UserImported' }>['data'],
  name: 'Signed Up' | 'Imported',
): Sighting {
  const at = envelope.createdAt.toISOString();
  const profile = data.profile ?? {};
  const traits = Object.fromEntries(
    Object.entries({ email: data.email, firstName: profile.givenName, lastName: profile.familyName, phone: profile.phone }).filter(
      ([, v]) => v !== null && v !== undefined,
    ),
  ) as JsonObject;
  return {
    messageId: envelope.id,
    kind: 'identify',
    name,
    userId: data.userId,
    anonymousIds: [],
    email: data.email,
    subject: data.userId,
    occurredAt: at,
    receivedAt: at,
    properties: null,
    traits,
  };
}

function fromEmailChange(envelope: EventEnvelope, data: Extract<AccountEvent, { type: 'EmailChanged' }>['data']): Sighting {
  const at = envelope.createdAt.toISOString();
  return {
    messageId: envelope.id,
    kind: 'identify',
    name: 'Email Changed',
    userId: data.userId,
    anonymousIds: [],
    email: data.email,
    subject: data.userId,
    occurredAt: at,
    receivedAt: at,
    properties: null,
    traits: { email: data.email },
  };
}

/**
 * A sign-in through login is the "Signed In" track call of Segment's B2B spec, on the person's
 * profile. Which application they signed in to is its only property.
 */
function fromSignIn(envelope: EventEnvelope, data: SignIn['data']): Sighting {
  return {
    messageId: envelope.id,
    kind: 'track',
    name: 'Signed In',
    userId: data.userId,
    anonymousIds: [],
    email: null,
    subject: data.userId,
    occurredAt: data.at,
    receivedAt: envelope.createdAt.toISOString(),
    properties: { clientId: data.clientId },
    traits: null,
  };
}

/** The sighting's identifiers, strongest first; `emailIndex` is the blind index of its e-mail. */
export function identifiersOf(sighting: Sighting, emailIndex: string | null): Identifier[] {
  return [
    ...(sighting.userId !== null ? [{ kind: 'userId' as const, value: sighting.userId }] : []),
    ...(emailIndex ? [{ kind: 'email' as const, value: emailIndex }] : []),
    ...sighting.anonymousIds.map((value) => ({ kind: 'anonymousId' as const, value })),
  ];
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
