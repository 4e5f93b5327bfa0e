import type { EventCodec } from '#cqrs';
import { ProblemError, RequestValidationError, type FieldError } from '#platform';
import { SubjectErasedError } from '#personal-data';
import type { EncodedMessage, GroupCommit, IngestOutcome } from './group-commit';
import { MAX_BATCH_EVENTS, isObject, normaliseMessage, receptionOf } from './segment-message';
import { MESSAGE_KINDS, MessageReceived, type MessageKind, type TrackingMessage, type TrackingSource } from '#contracts';

export interface TrackingRequest {
  readonly tenantId: string;
  readonly requestId: string;
  readonly receivedAt: Date;
  readonly ip?: string;
  readonly source: TrackingSource;
}

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
  ) {}

  async single(kind: MessageKind, body: Record<string, unknown>, request: TrackingRequest): Promise<IngestOutcome> {
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
    const messages: TrackingMessage[] = [];
    const errors: FieldError[] = [];
    const reception = receptionOf(request.receivedAt, request.source, request.ip, body.sentAt);
    let oversized = false;
    items.forEach((item: unknown, index) => {
      const kind = isObject(item) ? item.type : undefined;
      if (typeof kind !== 'string' || !(MESSAGE_KINDS as readonly string[]).includes(kind)) {
        errors.push({ pointer: `/batch/${index}/type`, message: `must be one of ${MESSAGE_KINDS.join(', ')}` });
        return;
      }
      const normalised = normaliseMessage(item, kind as MessageKind, reception, ['batch', index]);
      if (normalised.ok) messages.push(normalised.message);
      else {
        oversized ||= normalised.tooLarge === true;
        errors.push(...normalised.errors);
      }
    });
    if (errors.length > 0) throw oversized ? tooLarge(errors) : new RequestValidationError(errors);
    return this.store(messages, request);
  }

  private async store(messages: TrackingMessage[], request: TrackingRequest): Promise<IngestOutcome> {
    const context = { tenantId: request.tenantId, correlationId: request.requestId, now: request.receivedAt };
    const encoded = await Promise.all(messages.map((message) => this.encode(message, context)));
    const kept = encoded.filter((message) => message !== undefined);
    const outcome = await this.commit.submit(request.tenantId, kept);
    return { stored: outcome.stored, duplicates: outcome.duplicates + (encoded.length - kept.length) };
  }

  /**
   * A person who was erased is not tracked again: their key is gone and re-creating it would undo
   * the erasure. The message is acknowledged (their browser would otherwise retry it forever) and dropped.
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
