import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';

/**
 * Erasure requests, one stream each under the tenant's privacy prefix: the request and each
 * service's completion. Any service may append its `ErasureCompleted` there; register answers the
 * status from it. Being events, requests are re-applied by a replay or a rebuild of any read model.
 */
export const ERASURE_STREAM_PREFIX = 'privacy.erasure-';

/**
 * How late a service's export projection, and login's erasure projection, may see a request another
 * service appended (their idle poll): privacy requests are answered within days by law and within
 * seconds here, so these five projections of a deployment need not read the log every 50 ms while
 * none comes. Register's erasure projection keeps the default: it is the one that ends a request
 * once every service's completion has arrived (destroying the request's key), and the request
 * reads as completed from the moment the last completion is appended.
 */
export const PRIVACY_REQUEST_POLL_MS = 1_000;

export function erasureStreamFor(tenantId: string, erasureId: string): string {
  return `${ERASURE_STREAM_PREFIX}${tenantId}.${erasureId}`;
}

/** The services that hold personal data; an erasure is complete once each has said so. */
export const ERASURE_SERVICES = ['register', 'login', 'pulse', 'rewards'] as const;
export type ErasureService = (typeof ERASURE_SERVICES)[number];

/**
 * Whom to forget. Tracked identities as pulse receives them (`userId`, `anonymousId`), register's
 * accounts by id, and e-mail addresses only as their blind index (`email` kind, as register and
 * pulse both keep them), never in clear.
 */
export interface ErasureIdentities {
  userIds: string[];
  anonymousIds: string[];
  emailIndexes: string[];
}

/** The subject whose key seals a request's identities: destroyed once every service is done. */
export function erasureSubject(erasureId: string): string {
  return `erasure:${erasureId}`;
}

/**
 * Someone asked that a person be forgotten. The identities are sealed under the request's own key,
 * which register destroys once every service reported done: afterwards the request still says
 * when, by whom and that it completed, but no longer whom it was about.
 */
export const ErasureRequested = defineEvent<
  { erasureId: string; requestedBy: 'user' | 'tenant'; requestedAt: string } & ErasureIdentities
>()('ErasureRequested', {
  personalData: {
    subject: (data: JsonObject) => erasureSubject(String(data.erasureId)),
    fields: ['userIds', 'anonymousIds', 'emailIndexes'],
  },
});

/** One service erased what it held for the request's identities. Nothing personal. */
export const ErasureCompleted = defineEvent<{ erasureId: string; service: ErasureService; completedAt: string }>()('ErasureCompleted');

export type ErasureEvent = EventOf<typeof ErasureRequested> | EventOf<typeof ErasureCompleted>;
export const erasureEvents = [ErasureRequested, ErasureCompleted];

/**
 * The identities of a request as a consumer reads it: undefined when the request's key is already
 * destroyed (a replay after completion; what it named was erased then) or the data is malformed.
 */
export function erasureIdentitiesOf(data: JsonObject): ErasureIdentities | undefined {
  const list = (value: unknown) =>
    Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined;
  const userIds = list(data.userIds);
  const anonymousIds = list(data.anonymousIds);
  const emailIndexes = list(data.emailIndexes);
  if (!userIds || !anonymousIds || !emailIndexes) return undefined;
  return { userIds, anonymousIds, emailIndexes };
}

/** The completion a service appends, on the request's stream. */
export function erasureCompletion(erasureId: string, service: ErasureService, at: Date) {
  return ErasureCompleted({ erasureId, service, completedAt: at.toISOString() });
}
