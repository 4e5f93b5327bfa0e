import { randomUUID } from 'node:crypto';
import type { JsonObject } from '#eventstore';
import { carriesTraits, type MessageKind, type TrackingMessage, type TrackingSource } from '#contracts';
import { jsonPointer, type FieldError } from '#platform';

/** Segment's limits: a message, a batch body, the events of one batch, a messageId. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_BATCH_EVENTS = 2500;
export const MAX_MESSAGE_ID_LENGTH = 99;
/** Ids and names are index keys of the profile tables; a btree entry must stay under ~2.7 KB (4-byte UTF-8). */
const MAX_ID_LENGTH = 512;

/** What a request tells about each of its messages; made once per request (see receptionOf). */
export interface Reception {
  readonly receivedAt: Date;
  readonly receivedAtText: string;
  /** `sentAt` of the enclosing batch, when the message has none of its own. */
  readonly batchSentAt?: { readonly at: Date; readonly text: string };
  /** The caller's address, recorded as `context.ip` when the message names none (as Segment does). */
  readonly ip?: string;
  /** The source whose key authenticated the request. */
  readonly source: TrackingSource;
}

/** Dates formatted once per request rather than per message: a batch holds up to 2,500. */
export function receptionOf(receivedAt: Date, source: TrackingSource, ip?: string, batchSentAt?: unknown): Reception {
  const sentAt = safeTime(batchSentAt);
  return {
    receivedAt,
    receivedAtText: receivedAt.toISOString(),
    ip,
    source,
    ...(sentAt ? { batchSentAt: { at: sentAt, text: sentAt.toISOString() } } : {}),
  };
}

export type Normalised = { ok: true; message: TrackingMessage } | { ok: false; errors: FieldError[]; tooLarge?: boolean };

/**
 * Checks one message against Segment's rules and normalises it. `path` locates the message in the
 * request body so that every error points at the offending field (`/batch/3/event`).
 */
export function normaliseMessage(raw: unknown, kind: MessageKind, at: Reception, path: (string | number)[] = []): Normalised {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ pointer: jsonPointer([...path, field]), message });
  if (!isObject(raw)) return { ok: false, errors: [{ pointer: jsonPointer(path), message: 'must be a JSON object' }] };
  if (Buffer.byteLength(JSON.stringify(raw)) > MAX_MESSAGE_BYTES) {
    return {
      ok: false,
      tooLarge: true,
      errors: [{ pointer: jsonPointer(path), message: `a message may be at most ${MAX_MESSAGE_BYTES} bytes` }],
    };
  }
  const id = (field: string): string | null | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    // Segment's libraries send numeric ids as numbers; they name the same person as their digits.
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value !== 'string') return (void fail(field, 'must be a string'), null);
    if (value.length > MAX_ID_LENGTH) return (void fail(field, `must be at most ${MAX_ID_LENGTH} characters`), null);
    return value;
  };
  const text = (field: string, required: boolean): string | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) {
      if (required) fail(field, 'required');
      return undefined;
    }
    if (typeof value !== 'string') return void fail(field, 'must be a string');
    if (required && value.trim() === '') return void fail(field, 'must not be empty');
    if (value.length > MAX_ID_LENGTH) return void fail(field, `must be at most ${MAX_ID_LENGTH} characters`);
    return value;
  };
  const object = (field: string): JsonObject | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) return void fail(field, 'must be an object');
    return value as JsonObject;
  };
  const time = (field: string, value: unknown): Date | undefined => {
    if (value === undefined || value === null) return undefined;
    const parsed = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : undefined;
    if (!parsed || Number.isNaN(parsed.getTime())) return void fail(field, 'must be an ISO-8601 date-time');
    return parsed;
  };

  const userId = id('userId');
  const anonymousId = id('anonymousId');
  const messageIdValue = raw.messageId;
  let messageId: string | undefined;
  if (messageIdValue !== undefined && messageIdValue !== null) {
    if (typeof messageIdValue !== 'string' || messageIdValue === '') fail('messageId', 'must be a non-empty string');
    else if (messageIdValue.length > MAX_MESSAGE_ID_LENGTH) fail('messageId', `must be under ${MAX_MESSAGE_ID_LENGTH + 1} characters`);
    else messageId = messageIdValue;
  }
  const event = text('event', kind === 'track');
  const previousId = kind === 'alias' ? id('previousId') : undefined;
  const groupId = kind === 'group' ? id('groupId') : undefined;
  const name = text('name', false);
  const category = text('category', false);
  const properties = object('properties');
  const traits = object('traits');
  const context = object('context');
  const integrations = object('integrations');
  const timestamp = time('timestamp', raw.timestamp);
  const ownSentAt = raw.sentAt !== undefined && raw.sentAt !== null;
  const sentAt = ownSentAt ? time('sentAt', raw.sentAt) : at.batchSentAt?.at;

  if (kind === 'alias') {
    if (previousId === undefined) fail('previousId', 'required');
    if (userId === undefined) fail('userId', 'required');
  } else if (userId === undefined && anonymousId === undefined && errors.length === 0) {
    errors.push({ pointer: jsonPointer([...path, 'userId']), message: 'userId or anonymousId is required' });
  }
  if (kind === 'group' && groupId === undefined) fail('groupId', 'required');
  if (errors.length > 0) return { ok: false, errors };

  const receivedAt = at.receivedAt;
  const originalTimestamp = timestamp?.toISOString();
  // Segment's skew correction: the client's clock is off by (sentAt - receivedAt), and so is its timestamp.
  const corrected =
    timestamp && sentAt
      ? new Date(timestamp.getTime() + (receivedAt.getTime() - sentAt.getTime())).toISOString()
      : (originalTimestamp ?? at.receivedAtText);
  const ip = at.ip && !(context && typeof context.ip === 'string') ? at.ip : undefined;
  const message: TrackingMessage = {
    kind,
    messageId: messageId ?? randomUUID(),
    userId: userId ?? null,
    anonymousId: anonymousId ?? null,
    timestamp: corrected,
    receivedAt: at.receivedAtText,
    carriesTraits: carriesTraits(kind, traits, context),
    source: at.source,
  };
  if (previousId !== undefined && previousId !== null) message.previousId = previousId;
  if (groupId !== undefined && groupId !== null) message.groupId = groupId;
  if (event !== undefined) message.event = event;
  if (name !== undefined) message.name = name;
  if (category !== undefined) message.category = category;
  if (originalTimestamp) message.originalTimestamp = originalTimestamp;
  if (sentAt) message.sentAt = ownSentAt ? sentAt.toISOString() : at.batchSentAt!.text;
  if (properties) message.properties = properties;
  // Segment's libraries put identify traits at the top level but page/track traits in context.
  if (traits) message.traits = traits;
  if (context || ip) message.context = { ...(context ?? {}), ...(ip ? { ip } : {}) };
  if (integrations) message.integrations = integrations;
  return { ok: true, message };
}

function safeTime(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
