import { randomUUID } from 'node:crypto';
import type { JsonObject } from '#eventstore';
import { carriesTraits, type MessageKind, type TrackingMessage, type TrackingSource } from '#contracts';
import { BOUNDS, instantProblem, jsonPointer, jsonProblems, parseIsoInstant, textProblem, type FieldError } from '#platform';

/** Segment's limits: a message, a batch body, the events of one batch, a messageId. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_BATCH_EVENTS = 2500;
export const MAX_MESSAGE_ID_LENGTH = 99;
/** Write keys are random tokens of a few dozen characters; a longer one is not a key. */
const MAX_WRITE_KEY_LENGTH = 256;
/** The JSON a message keeps (sealed): each is walked for what storage cannot hold. */
const KEPT_JSON = ['properties', 'traits', 'context', 'integrations'] as const;
const NOT_BLANK = /\S/;
const NO_PATH: readonly (string | number)[] = [];

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
  /** Sent through /v1/import: history, which starts nothing live. */
  readonly historical: boolean;
}

/** Dates formatted once per request rather than per message: a batch holds up to 2,500. */
export function receptionOf(receivedAt: Date, source: TrackingSource, ip?: string, batchSentAt?: Date, historical = false): Reception {
  return {
    receivedAt,
    receivedAtText: receivedAt.toISOString(),
    ip,
    source,
    historical,
    ...(batchSentAt ? { batchSentAt: { at: batchSentAt, text: batchSentAt.toISOString() } } : {}),
  };
}

/**
 * A client's `timestamp` or `sentAt`: undefined when absent, the instant, or why it cannot be taken
 * (not ISO-8601, before 1970 or more than a day after `now`: the read models cast it to timestamptz).
 */
export function instantOf(value: unknown, now: Date): Date | string | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = parseIsoInstant(value);
  return parsed ? (instantProblem(parsed, now) ?? parsed) : 'must be an ISO-8601 date-time';
}

/** Why the `writeKey` of a body (analytics.js sends it there) is not one, or undefined. */
export function writeKeyProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return 'must be a string';
  return textProblem(value, 'identifier', MAX_WRITE_KEY_LENGTH);
}

export type Normalised = { ok: true; message: TrackingMessage } | { ok: false; errors: FieldError[]; tooLarge?: boolean };

/**
 * Checks one message against Segment's rules and what storage can hold, and normalises it. `path`
 * locates the message in the request body so that every error points at the offending field
 * (`/batch/3/event`). This runs for every tracked event, so the checks are plain functions and
 * errors are allocated only for a message that has one.
 */
export function normaliseMessage(raw: unknown, kind: MessageKind, at: Reception, path: readonly (string | number)[] = NO_PATH): Normalised {
  if (!isObject(raw)) return { ok: false, errors: [{ pointer: jsonPointer(path), message: 'must be a JSON object' }] };
  const bytes = messageBytes(raw);
  if (bytes > MAX_MESSAGE_BYTES) {
    return {
      ok: false,
      tooLarge: true,
      errors: [{ pointer: jsonPointer(path), message: `a message may be at most ${MAX_MESSAGE_BYTES} bytes` }],
    };
  }
  if (bytes < 0) return { ok: false, errors: [{ pointer: jsonPointer(path), message: 'nests too deep' }] };

  let errors: FieldError[] | undefined;
  let problem: string | undefined;
  if ((problem = idProblem(raw.userId))) errors = failed(errors, path, 'userId', problem);
  if ((problem = idProblem(raw.anonymousId))) errors = failed(errors, path, 'anonymousId', problem);
  if ((problem = messageIdProblem(raw.messageId))) errors = failed(errors, path, 'messageId', problem);
  if ((problem = nameProblem(raw.event, kind === 'track'))) errors = failed(errors, path, 'event', problem);
  if ((problem = nameProblem(raw.name, false))) errors = failed(errors, path, 'name', problem);
  if ((problem = nameProblem(raw.category, false))) errors = failed(errors, path, 'category', problem);
  if (kind === 'alias' && (problem = idProblem(raw.previousId))) errors = failed(errors, path, 'previousId', problem);
  if (kind === 'group' && (problem = idProblem(raw.groupId))) errors = failed(errors, path, 'groupId', problem);
  for (const field of KEPT_JSON) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (!isObject(value)) errors = failed(errors, path, field, 'must be an object');
    else {
      const found = jsonProblems(value, [...path, field]);
      if (found.length > 0) (errors ??= []).push(...found);
    }
  }
  const timestamp = instantOf(raw.timestamp, at.receivedAt);
  if (typeof timestamp === 'string') errors = failed(errors, path, 'timestamp', timestamp);
  const ownSentAt = instantOf(raw.sentAt, at.receivedAt);
  if (typeof ownSentAt === 'string') errors = failed(errors, path, 'sentAt', ownSentAt);

  if (kind === 'alias') {
    if (absent(raw.previousId)) errors = failed(errors, path, 'previousId', 'required');
    if (absent(raw.userId)) errors = failed(errors, path, 'userId', 'required');
  } else if (absent(raw.userId) && absent(raw.anonymousId) && errors === undefined) {
    errors = failed(errors, path, 'userId', 'userId or anonymousId is required');
  }
  if (kind === 'group' && absent(raw.groupId)) errors = failed(errors, path, 'groupId', 'required');
  if (errors) return { ok: false, errors };

  // A timestamp or sentAt that could not be taken was an error above.
  const happened = timestamp as Date | undefined;
  const ownSent = ownSentAt as Date | undefined;
  const receivedAt = at.receivedAt;
  const sentAt = ownSent ?? at.batchSentAt?.at;
  const originalTimestamp = happened?.toISOString();
  let corrected: string;
  if (happened && sentAt) {
    // Segment's skew correction: the client's clock is off by (sentAt - receivedAt), and so is its timestamp.
    const correctedAt = new Date(happened.getTime() + (receivedAt.getTime() - sentAt.getTime()));
    problem = instantProblem(correctedAt, receivedAt);
    if (problem) return { ok: false, errors: failed(undefined, path, 'timestamp', `corrected by sentAt, ${problem}`) };
    corrected = correctedAt.toISOString();
  } else corrected = originalTimestamp ?? at.receivedAtText;

  const properties = raw.properties as JsonObject | undefined | null;
  const traits = raw.traits as JsonObject | undefined | null;
  const context = raw.context as JsonObject | undefined | null;
  const integrations = raw.integrations as JsonObject | undefined | null;
  const ip = at.ip && !(context && typeof context.ip === 'string') ? at.ip : undefined;
  const message: TrackingMessage = {
    kind,
    messageId: typeof raw.messageId === 'string' ? raw.messageId : randomUUID(),
    userId: idText(raw.userId),
    anonymousId: idText(raw.anonymousId),
    timestamp: corrected,
    receivedAt: at.receivedAtText,
    carriesTraits: carriesTraits(kind, traits, context),
    source: at.source,
    historical: at.historical,
  };
  if (kind === 'alias') message.previousId = idText(raw.previousId)!;
  if (kind === 'group') message.groupId = idText(raw.groupId)!;
  if (typeof raw.event === 'string') message.event = raw.event;
  if (typeof raw.name === 'string') message.name = raw.name;
  if (typeof raw.category === 'string') message.category = raw.category;
  if (originalTimestamp) message.originalTimestamp = originalTimestamp;
  if (sentAt) message.sentAt = ownSent ? ownSent.toISOString() : at.batchSentAt!.text;
  if (properties) message.properties = properties;
  // Segment's libraries put identify traits at the top level but page/track traits in context.
  if (traits) message.traits = traits;
  if (context || ip) message.context = { ...(context ?? {}), ...(ip ? { ip } : {}) };
  if (integrations) message.integrations = integrations;
  return { ok: true, message };
}

function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

/**
 * Ids are index keys of the profile tables. Segment's libraries send numeric ids as numbers, which
 * name the same person as their digits; only whole numbers a double holds exactly are taken, so two
 * ids never collapse into one string (12345678901234567890 and …891 both print as 12345678901234567000).
 */
function idProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return textProblem(value, 'identifier', BOUNDS.identifierLength);
  if (typeof value === 'number') return Number.isSafeInteger(value) ? undefined : 'must be a string or a whole number';
  return 'must be a string';
}

function idText(value: unknown): string | null {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
}

function messageIdProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') return 'must be a non-empty string';
  return textProblem(value, 'identifier', MAX_MESSAGE_ID_LENGTH);
}

/** Event, page and screen names: single-line tokens, counted per name on the profile. */
function nameProblem(value: unknown, required: boolean): string | undefined {
  if (value === undefined || value === null) return required ? 'required' : undefined;
  if (typeof value !== 'string') return 'must be a string';
  if (required && !NOT_BLANK.test(value)) return 'must not be empty';
  return textProblem(value, 'identifier', BOUNDS.identifierLength);
}

function failed(errors: FieldError[] | undefined, path: readonly (string | number)[], field: string, message: string): FieldError[] {
  const list = errors ?? [];
  list.push({ pointer: jsonPointer([...path, field]), message });
  return list;
}

/**
 * The message's size as JSON, or -1 when it nests too deep to serialise: JSON.parse reads any
 * depth a body can hold, JSON.stringify recurses and runs out of stack (a RangeError).
 */
function messageBytes(raw: Record<string, unknown>): number {
  try {
    return Buffer.byteLength(JSON.stringify(raw));
  } catch (error) {
    if (error instanceof RangeError) return -1;
    throw error;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
