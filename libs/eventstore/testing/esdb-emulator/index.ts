/**
 * A test-only EventStoreDB speaking the real gRPC protocol, so CI can drive the real
 * `@eventstore/db-client` where no EventStoreDB server can run.
 *
 * Served: Streams.Read (streams and `$all`, both directions, `$all` subscriptions with filters and
 * checkpoints), Streams.Append, Streams.BatchAppend and ServerFeatures.GetSupportedMethods.
 * Everything else answers UNIMPLEMENTED.
 *
 * By default the emulator behaves like a current server: it advertises BatchAppend, so the client
 * writes through it exactly as it does in production. `{ batchAppend: false }` behaves like a
 * server older than 21.10, which has no ServerFeatures service at all: the client then falls back
 * to Append.
 */
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Empty } from '@eventstore/db-client/generated/shared_pb';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { serveAppend, serveBatchAppend } from './appends';
import { EventLog } from './event-log';
import { ResponseSink, serveRead } from './reads';
import { serveAllSubscription } from './subscriptions';
import { NotEmulated, ProtocolViolation } from './wire';

export interface EsdbEmulatorOptions {
  /** Advertise and serve BatchAppend (default true, as servers since 21.10 do). */
  readonly batchAppend?: boolean;
}

export interface EsdbEmulator {
  /** Connection string for `EventStoreDBClient.connectionString`. */
  readonly url: string;
  /** Subscriptions the server is still serving: lets tests see that a client really let go. */
  openSubscriptions(): number;
  stop(): Promise<void>;
}

const STREAMS_SERVICE = 'event_store.client.streams.streams';

/**
 * A real server's `$all` never starts empty: it holds system events the adapter has to skip.
 * Seeding a few keeps that behaviour under test.
 */
function seedSystemEvents(log: EventLog): void {
  const json = (value: object) => Buffer.from(JSON.stringify(value), 'utf8');
  const system = (type: string, data: object) => ({
    id: randomUUID(),
    type,
    contentType: 'application/json',
    data: json(data),
    customMetadata: new Uint8Array(),
  });
  log.append('$epoch-information', { kind: 'any' }, [system('$epoch-information', { epochNumber: 0 })]);
  log.append('$scavenges', { kind: 'any' }, [system('$scavengeIndexInitialized', {})]);
  log.append('$$$scavenges', { kind: 'any' }, [system('$metadata', { $maxAge: 2592000 })]);
}

export async function startEsdbEmulator(options: EsdbEmulatorOptions = {}): Promise<EsdbEmulator> {
  const batchAppend = options.batchAppend ?? true;
  const log = new EventLog();
  seedSystemEvents(log);

  const server = new Server();
  const streamsImplementation: UntypedServiceImplementation = {
    read: serveReadCall(log),
    append: serveAppend(log),
  };
  if (batchAppend) streamsImplementation.batchAppend = serveBatchAppend(log);
  // Methods left out (Delete, Tombstone, BatchAppend when disabled) answer UNIMPLEMENTED.
  server.addService(StreamsService, streamsImplementation);
  if (batchAppend) {
    server.addService(ServerFeaturesService, {
      getSupportedMethods: (_call: ServerUnaryCall<Empty, SupportedMethods>, callback: sendUnaryData<SupportedMethods>) =>
        callback(null, supportedMethods()),
    });
  }

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort))),
  );
  let stopped = false;
  return {
    url: `esdb://127.0.0.1:${port}?tls=false`,
    openSubscriptions: () => log.listenerCount,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Subscriptions never end by themselves; waiting for a graceful shutdown would hang.
      server.forceShutdown();
    },
  };
}

function serveReadCall(log: EventLog) {
  return (call: ServerWritableStream<ReadReq, ReadResp>): void => {
    const sink = new ResponseSink(call);
    const options = call.request.getOptions();
    const served = !options
      ? Promise.reject(new ProtocolViolation('read options missing'))
      : options.hasSubscription()
        ? serveAllSubscription(sink, log, options)
        : serveRead(sink, log, options);
    served.catch((error: Error) => {
      if (sink.isGone) return;
      const code =
        error instanceof ProtocolViolation
          ? status.INVALID_ARGUMENT
          : error instanceof NotEmulated
            ? status.UNIMPLEMENTED
            : status.INTERNAL;
      call.emit('error', { code, details: error.message });
    });
  };
}

function supportedMethods(): SupportedMethods {
  const method = (serviceName: string, methodName: string) => new SupportedMethod().setServiceName(serviceName).setMethodName(methodName);
  return new SupportedMethods()
    .setEventStoreServerVersion('emulator')
    .setMethodsList([
      method(STREAMS_SERVICE, 'read'),
      method(STREAMS_SERVICE, 'append'),
      method(STREAMS_SERVICE, 'batchappend'),
      method('event_store.client.server_features.serverfeatures', 'getsupportedmethods'),
    ]);
}
