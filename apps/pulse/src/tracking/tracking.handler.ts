import type { EventCodec } from '#cqrs';
import { ProblemError, RequestValidationError, type FieldError, type TenantRateLimiter } from '#platform';
import { SubjectErasedError } from '#personal-data';
import type { ConsentGate } from '../consent/consent-gate';
import type { EncodedMessage, GroupCommit, IngestOutcome } from './group-commit';
import { MAX_BATCH_EVENTS, instantOf, isObject, normaliseMessage, receptionOf } from './segment-message';
import { MESSAGE_KINDS, MessageReceived, type MessageKind, type TrackingMessage, type TrackingSource } from '#contracts';

export interface TrackingRequest {
  readonly tenantId: string;
  readonly requestId: string;
  readonly receivedAt: Date;
  readonly ip?: string;
  readonly source: TrackingSource;
  /** A call to /v1/import: its messages are history (see TrackingMessage.historical). */
  readonly historical?: boolean;
}

/** Errors one refusal lists at most: a hostile batch can hold thousands. */
const MAX_REPORTED_ERRORS = 100;

const tooLarge = (errors: FieldError[]) =>
  new ProblemError({
    status: 413,
    type: 'message-too-large',
    title: 'Message too large',
    detail: 'a tracking message may be at most 32 KB',
    extensions: { errors },
  });

/**
 * Validates Segment calls, seals their personal data and hands them to the group commit. A batch
 * is all or nothing: one bad message refuses the whole request, so a client never has to work out
 * which half of its batch was kept.
 */
export class TrackingHandler {
  constructor(
    private readonly codec: EventCodec,
    private readonly commit: GroupCommit,
    /** Events per second per tenant, when INGEST_TENANT_EVENTS_PER_SECOND sets one: spent before any checking. */
    private readonly rate?: TenantRateLimiter,
    /** Drops what consent does not allow (see ConsentGate); without it every valid message is stored. */
    private readonly consent?: ConsentGate,
  ) {}

  async single(kind: MessageKind, body: Record<string, unknown>, request: TrackingRequest): Promise<IngestOutcome> {
    this.rate?.enforce(request.tenantId, 1, 'events');
    const normalised = normaliseMessage(body, kind, receptionOf(request.receivedAt, request.source, request.ip));
    if (!normalised.ok) throw normalised.tooLarge ? tooLarge(normalised.errors) : new RequestValidationError(normalised.errors);
    return this.store([normalised.message], request);
  }

  async batch(body: Record<string, unknown>, request: TrackingRequest): Promise<IngestOutcome> {
    const items = body.batch;
    if (!Array.isArray(items))
      throw new RequestValidationError([{ pointer: '/batch', message: items === undefined ? 'required' : 'must be an array' }]);
    if (items.length > MAX_BATCH_EVENTS) {
      throw new ProblemError({
        status: 400,
        type: 'batch-too-long',
        title: 'Too many events in the batch',
        detail: `a batch may hold at most ${MAX_BATCH_EVENTS} events, this one holds ${items.length}`,
      });
    }
    this.rate?.enforce(request.tenantId, items.length, 'events');
    const messages: TrackingMessage[] = [];
    const errors: FieldError[] = [];
    const sentAt = instantOf(body.sentAt, request.receivedAt);
    if (typeof sentAt === 'string') errors.push({ pointer: '/sentAt', message: sentAt });
    const reception = receptionOf(
      request.receivedAt,
      request.source,
      request.ip,
      typeof sentAt === 'string' ? undefined : sentAt,
      request.historical === true,
    );
    let oversized = false;
    // The request is refused once one message is bad; past a hundred errors, checking on only costs.
    for (let index = 0; index < items.length && errors.length < MAX_REPORTED_ERRORS; index++) {
      const item: unknown = items[index];
      const kind = isObject(item) ? item.type : undefined;
      if (typeof kind !== 'string' || !(MESSAGE_KINDS as readonly string[]).includes(kind)) {
        errors.push({ pointer: `/batch/${index}/type`, message: `must be one of ${MESSAGE_KINDS.join(', ')}` });
        continue;
      }
      const normalised = normaliseMessage(item, kind as MessageKind, reception, ['batch', index]);
      if (normalised.ok) messages.push(normalised.message);
      else {
        oversized ||= normalised.tooLarge === true;
        errors.push(...normalised.errors);
      }
    }
    if (errors.length > 0) throw oversized ? tooLarge(errors) : new RequestValidationError(errors);
    return this.store(messages, request);
  }

  private async store(messages: TrackingMessage[], request: TrackingRequest): Promise<IngestOutcome> {
    const context = { tenantId: request.tenantId, correlationId: request.requestId, now: request.receivedAt };
    const admitted = this.consent ? await this.consent.admit(request.tenantId, messages) : messages;
    const encoded = await Promise.all(admitted.map((message) => this.encode(message, context)));
    const kept = encoded.filter((message) => message !== undefined);
    this.consent?.countSuppressed('erased', admitted.length - kept.length);
    const outcome = await this.commit.submit(request.tenantId, kept);
    // Acknowledged without being stored: known duplicates, erased people, what consent refuses.
    return { stored: outcome.stored, duplicates: outcome.duplicates + (messages.length - kept.length) };
  }

  /**
   * A person who was erased is not tracked again (Segment's delete-and-suppress): their key is gone
   * and re-creating it would undo the erasure. The message is acknowledged (their browser would
   * otherwise retry it forever), dropped and counted as suppressed (`reason="erased"`).
   */
  private async encode(
    message: TrackingMessage,
    context: { tenantId: string; correlationId: string },
  ): Promise<EncodedMessage | undefined> {
    try {
      return {
        messageId: message.messageId,
        event: await this.codec.encode(MessageReceived(message), { ...context, now: new Date(message.timestamp) }),
      };
    } catch (error) {
      if (error instanceof SubjectErasedError) return undefined;
      throw error;
    }
  }
}
