import { randomUUID } from 'node:crypto';
import type { DomainEvent, EventCodec } from '#cqrs';
import type { Pool } from 'pg';
import type { AppendResult, EventStore, StreamAppend, StreamEvents } from '#eventstore';
import { artefactWritesBeside, storeWrites, type ArtefactWrite } from './oidc/request-artefacts';

export interface StreamRecord {
  readonly streamName: string;
  readonly events: readonly DomainEvent[];
}

/**
 * Appends facts that no decision depends on (a login happened, a session ended): they are
 * records for other services, so they go in with `any` revision rather than through a decider.
 */
export class LoginEventLog {
  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    /** Login's database, where its OIDC artefacts live. */
    private readonly pool: Pool,
  ) {}

  record(streamName: string, tenantId: string, events: DomainEvent[], correlationId?: string): Promise<void> {
    return this.recordAll(tenantId, [{ streamName, events }], correlationId);
  }

  /** Facts for several streams, as one write where the store can (a sign-in and the session it starts). */
  async recordAll(tenantId: string, records: readonly StreamRecord[], correlationId: string = randomUUID()): Promise<void> {
    await this.append(await this.encode(tenantId, records, correlationId));
  }

  /**
   * Facts, and the OIDC artefact writes that go with them (a sign-in's interaction result): in one
   * statement, which commits both or neither, when the store can write beside them in login's
   * own database (a transactional store there); side by side otherwise.
   *
   * `decided`: a decision's append (CommandRunner's storeWith), guarded by the revision it was
   * decided on and stored in that same statement, so the facts stand only with it. When the
   * revision no longer holds nothing is stored and the WrongExpectedRevisionError is thrown; side by
   * side, it goes first and nothing else is written unless it is stored.
   */
  async recordAllWith(
    tenantId: string,
    records: readonly StreamRecord[],
    artefacts: readonly ArtefactWrite[],
    decided?: StreamAppend,
  ): Promise<AppendResult | undefined> {
    const streams = await this.encode(tenantId, records, randomUUID());
    const beside = artefactWritesBeside(tenantId, artefacts);
    const transactional = this.store.transactional;
    if (beside && streams.length > 0 && transactional?.sharesDatabaseWith(this.pool)) {
      const results = await transactional.appendToStreamsBeside(decided ? [...streams, decided] : streams, beside);
      return decided ? results[streams.length] : undefined;
    }
    // The port takes -1n as "no stream", as a StreamAppend says it.
    const stored = decided
      ? await this.store.appendToStream(decided.streamName, decided.events, { expectedRevision: decided.expectedRevision })
      : undefined;
    await Promise.all([storeWrites(this.pool, tenantId, artefacts), this.append(streams)]);
    return stored;
  }

  private async append(streams: readonly StreamEvents[]): Promise<void> {
    if (streams.length > 1 && this.store.appendToStreams) await this.store.appendToStreams(streams);
    else for (const stream of streams) await this.store.appendToStream(stream.streamName, stream.events, { expectedRevision: 'any' });
  }

  private encode(tenantId: string, records: readonly StreamRecord[], correlationId: string): Promise<StreamEvents[]> {
    const context = { tenantId, correlationId, now: new Date() };
    return Promise.all(
      records
        .filter((record) => record.events.length > 0)
        .map(async (record) => ({ streamName: record.streamName, events: await this.codec.encodeAll(record.events, context) })),
    );
  }
}
