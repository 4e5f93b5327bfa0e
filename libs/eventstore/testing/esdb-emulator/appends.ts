/**
 * Streams.Append (one client-streamed write per call) and Streams.BatchAppend (many writes
 * multiplexed over one long-lived duplex call, matched up by correlation id).
 */
import { status, type sendUnaryData, type ServerDuplexStream, type ServerReadableStream } from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as WellKnownEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import {
  AllStreamPosition,
  BadRequest,
  Empty,
  WrongExpectedVersion as WrongExpectedVersionDetails,
} from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import type { AppendOutcome, EventLog, ExpectedState, ProposedEvent } from './event-log';
import { proposedEvent, ProtocolViolation, streamIdentifier, streamNameOf, uuidMessage, uuidToString } from './wire';

export function serveAppend(log: EventLog) {
  return (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>): void => {
    let header: { streamName: string; expected: ExpectedState } | undefined;
    const events: ProposedEvent[] = [];
    let answered = false;
    const answer = (error: Error | null, response?: AppendResp): void => {
      if (answered) return;
      answered = true;
      if (error) callback({ code: status.INVALID_ARGUMENT, details: error.message });
      else callback(null, response);
    };

    call.on('data', (request: AppendReq) => {
      if (answered) return;
      try {
        if (!header) {
          if (!request.hasOptions()) throw new ProtocolViolation('an append must start with its options');
          const options = request.getOptions()!;
          header = { streamName: streamNameOf(options.getStreamIdentifier()), expected: appendExpectation(options) };
        } else {
          if (!request.hasProposedMessage()) throw new ProtocolViolation('options sent twice');
          events.push(proposedEvent(request.getProposedMessage()!));
        }
      } catch (error) {
        answer(error as Error);
      }
    });
    call.on('end', () => {
      if (!header) return answer(new ProtocolViolation('an append must start with its options'));
      answer(null, appendResponse(header.expected, log.append(header.streamName, header.expected, events)));
    });
    call.on('error', () => undefined);
  };
}

function appendExpectation(options: AppendReq.Options): ExpectedState {
  const Case = AppendReq.Options.ExpectedStreamRevisionCase;
  switch (options.getExpectedStreamRevisionCase()) {
    case Case.REVISION:
      return { kind: 'revision', revision: BigInt(options.getRevision()) };
    case Case.NO_STREAM:
      return { kind: 'no_stream' };
    case Case.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case Case.ANY:
      return { kind: 'any' };
    default:
      throw new ProtocolViolation('expected stream revision missing');
  }
}

/**
 * Since 20.6.1 the server reports a wrong expected version inside a successful response rather
 * than as a gRPC error; the client turns it into WrongExpectedVersionError itself. Only the current
 * fields are filled in: the deprecated 20.6.0 ones are not read by clients of this generation.
 */
function appendResponse(expected: ExpectedState, outcome: AppendOutcome): AppendResp {
  if (outcome.kind === 'success') {
    const success = new AppendResp.Success();
    if (outcome.currentRevision < 0n) success.setNoStream(new Empty());
    else success.setCurrentRevision(outcome.currentRevision.toString());
    if (outcome.position === undefined) success.setNoPosition(new Empty());
    else {
      const position = outcome.position.toString();
      success.setPosition(new AppendResp.Position().setCommitPosition(position).setPreparePosition(position));
    }
    return new AppendResp().setSuccess(success);
  }
  const wrong = new AppendResp.WrongExpectedVersion();
  if (outcome.currentRevision === undefined) wrong.setCurrentNoStream(new Empty());
  else wrong.setCurrentRevision(outcome.currentRevision.toString());
  switch (expected.kind) {
    case 'revision':
      wrong.setExpectedRevision(expected.revision.toString());
      break;
    case 'no_stream':
      wrong.setExpectedNoStream(new Empty());
      break;
    case 'stream_exists':
      wrong.setExpectedStreamExists(new Empty());
      break;
    case 'any':
      wrong.setExpectedAny(new Empty());
      break;
  }
  return new AppendResp().setWrongExpectedVersion(wrong);
}

interface PendingBatch {
  readonly streamName: string;
  readonly expected: ExpectedState;
  readonly events: ProposedEvent[];
}

export function serveBatchAppend(log: EventLog) {
  return (call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void => {
    // A write may span several requests (the client splits large ones); only the first carries options.
    const pending = new Map<string, PendingBatch>();
    call.on('data', (request: BatchAppendReq) => {
      let correlationId: string;
      try {
        correlationId = uuidToString(request.getCorrelationId());
      } catch (error) {
        call.emit('error', { code: status.INVALID_ARGUMENT, details: (error as Error).message });
        return;
      }
      let batch = pending.get(correlationId);
      try {
        if (!batch) {
          if (!request.hasOptions()) throw new ProtocolViolation('the first request of a write must carry its options');
          const options = request.getOptions()!;
          batch = {
            streamName: streamNameOf(options.getStreamIdentifier()),
            expected: batchExpectation(options),
            events: [],
          };
          pending.set(correlationId, batch);
        }
        for (const message of request.getProposedMessagesList()) batch.events.push(proposedEvent(message));
      } catch (error) {
        pending.delete(correlationId);
        call.write(batchFailure(correlationId, batch?.streamName ?? '', badRequest((error as Error).message)));
        return;
      }
      if (!request.getIsFinal()) return;
      pending.delete(correlationId);
      const outcome = log.append(batch.streamName, batch.expected, batch.events);
      call.write(batchResponse(correlationId, batch, outcome));
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  };
}

function batchExpectation(options: BatchAppendReq.Options): ExpectedState {
  const Case = BatchAppendReq.Options.ExpectedStreamPositionCase;
  switch (options.getExpectedStreamPositionCase()) {
    case Case.STREAM_POSITION:
      return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
    case Case.NO_STREAM:
      return { kind: 'no_stream' };
    case Case.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case Case.ANY:
      return { kind: 'any' };
    default:
      throw new ProtocolViolation('expected stream position missing');
  }
}

function batchResponse(correlationId: string, batch: PendingBatch, outcome: AppendOutcome): BatchAppendResp {
  if (outcome.kind === 'wrong_expected_version') {
    return batchFailure(correlationId, batch.streamName, wrongExpectedVersion(batch.expected, outcome.currentRevision));
  }
  const success = new BatchAppendResp.Success();
  if (outcome.currentRevision < 0n) success.setNoStream(new WellKnownEmpty());
  else success.setCurrentRevision(outcome.currentRevision.toString());
  if (outcome.position === undefined) success.setNoPosition(new WellKnownEmpty());
  else {
    const position = outcome.position.toString();
    success.setPosition(new AllStreamPosition().setCommitPosition(position).setPreparePosition(position));
  }
  const response = new BatchAppendResp()
    .setCorrelationId(uuidMessage(correlationId, false))
    .setStreamIdentifier(streamIdentifier(batch.streamName))
    .setSuccess(success);
  switch (batch.expected.kind) {
    case 'revision':
      return response.setStreamPosition(batch.expected.revision.toString());
    case 'no_stream':
      return response.setNoStream(new WellKnownEmpty());
    case 'stream_exists':
      return response.setStreamExists(new WellKnownEmpty());
    case 'any':
      return response.setAny(new WellKnownEmpty());
  }
}

/** Batch failures travel as a google.rpc.Status whose details name the failure's message type. */
function batchFailure(correlationId: string, streamName: string, error: Status): BatchAppendResp {
  return new BatchAppendResp()
    .setCorrelationId(uuidMessage(correlationId, false))
    .setStreamIdentifier(streamIdentifier(streamName))
    .setError(error);
}

function wrongExpectedVersion(expected: ExpectedState, currentRevision: bigint | undefined): Status {
  const details = new WrongExpectedVersionDetails();
  if (currentRevision === undefined) details.setCurrentNoStream(new WellKnownEmpty());
  else details.setCurrentStreamRevision(currentRevision.toString());
  switch (expected.kind) {
    case 'revision':
      details.setExpectedStreamPosition(expected.revision.toString());
      break;
    case 'no_stream':
      details.setExpectedNoStream(new WellKnownEmpty());
      break;
    case 'stream_exists':
      details.setExpectedStreamExists(new WellKnownEmpty());
      break;
    case 'any':
      details.setExpectedAny(new WellKnownEmpty());
      break;
  }
  return statusWithDetails(Code.FAILED_PRECONDITION, 'WrongExpectedVersion', details, 'event_store.client.WrongExpectedVersion');
}

/** The client dereferences the details of every batch error, so even protocol errors carry some. */
function badRequest(message: string): Status {
  return statusWithDetails(Code.INVALID_ARGUMENT, message, new BadRequest().setMessage(message), 'event_store.client.BadRequest');
}

function statusWithDetails(code: Code, message: string, details: { serializeBinary(): Uint8Array }, typeName: string): Status {
  const packed = new Any();
  packed.pack(details.serializeBinary(), typeName);
  return new Status().setCode(code).setMessage(message).setDetails(packed);
}
