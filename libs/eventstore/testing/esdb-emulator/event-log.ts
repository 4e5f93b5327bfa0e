/**
 * The emulator's in-memory database: streams, the global `$all` log and EventStoreDB's append rules.
 * Everything here is synchronous, so an append is checked and committed without yielding to other
 * calls; that alone gives "exactly one winner per expected revision" under concurrent appenders.
 */

export interface ProposedEvent {
  /** Canonical lower-case UUID, the form the server answers with whatever form the client sent. */
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly customMetadata: Uint8Array;
}

export interface StoredEvent extends ProposedEvent {
  readonly streamName: string;
  readonly revision: bigint;
  /** Commit and prepare positions are the same number here: one event per log record. */
  readonly position: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, as the protocol's `created` metadata carries them. */
  readonly createdTicks: bigint;
}

export type ExpectedState =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'stream_exists' }
  | { readonly kind: 'revision'; readonly revision: bigint };

export type AppendOutcome =
  | { readonly kind: 'success'; readonly currentRevision: bigint; readonly position: bigint | undefined }
  /** `currentRevision` is undefined when the stream does not exist. */
  | { readonly kind: 'wrong_expected_version'; readonly currentRevision: bigint | undefined };

const NO_STREAM = -1n;
const TICKS_PER_MILLISECOND = 10_000n;

export class EventLog {
  private readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly appendListeners = new Set<() => void>();
  /** Starts above zero so no real event ever sits at the position clients use to mean "start". */
  private nextPosition = 1n;

  get length(): number {
    return this.all.length;
  }

  eventAt(index: number): StoredEvent | undefined {
    return this.all[index];
  }

  /** Index in `$all` of the first event whose position is greater than or equal to `position`. */
  indexAtOrAfter(position: bigint): number {
    let low = 0;
    let high = this.all.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.all[middle]!.position < position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  stream(streamName: string): readonly StoredEvent[] | undefined {
    return this.streams.get(streamName);
  }

  lastPosition(): bigint | undefined {
    return this.all.at(-1)?.position;
  }

  /** Every open subscription listens for appends, so this counts them. */
  get listenerCount(): number {
    return this.appendListeners.size;
  }

  /** Calls `listener` after every successful append until the returned function is called. */
  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  append(streamName: string, expected: ExpectedState, proposed: readonly ProposedEvent[]): AppendOutcome {
    const existing = this.streams.get(streamName) ?? [];
    const current = BigInt(existing.length) - 1n;

    const replay = this.idempotentReplay(existing, expected, proposed);
    if (replay) return replay;
    if (!this.accepts(expected, current)) return wrongExpectedVersion(current);
    if (proposed.length === 0) return { kind: 'success', currentRevision: current, position: undefined };

    const createdTicks = BigInt(Date.now()) * TICKS_PER_MILLISECOND;
    const stream = this.streams.get(streamName) ?? [];
    this.streams.set(streamName, stream);
    let stored: StoredEvent | undefined;
    for (const event of proposed) {
      stored = {
        ...event,
        streamName,
        revision: BigInt(stream.length),
        position: this.nextPosition++,
        createdTicks,
      };
      stream.push(stored);
      this.all.push(stored);
    }
    for (const listener of [...this.appendListeners]) listener();
    return { kind: 'success', currentRevision: stored!.revision, position: stored!.position };
  }

  private accepts(expected: ExpectedState, current: bigint): boolean {
    switch (expected.kind) {
      case 'any':
        return true;
      case 'no_stream':
        return current === NO_STREAM;
      case 'stream_exists':
        return current !== NO_STREAM;
      case 'revision':
        return current === expected.revision;
    }
  }

  /**
   * EventStoreDB recognises a retried write by its event ids and answers it as if it had just
   * succeeded, without writing twice. With an exact expected revision, a retry that only partly
   * matches what follows that revision is refused with WrongExpectedVersion, as the server does;
   * with `any` a partial match is simply a new write.
   */
  private idempotentReplay(
    existing: readonly StoredEvent[],
    expected: ExpectedState,
    proposed: readonly ProposedEvent[],
  ): AppendOutcome | undefined {
    if (proposed.length === 0 || existing.length === 0) return undefined;
    const current = BigInt(existing.length) - 1n;
    let firstIndex: number;
    if (expected.kind === 'revision' || expected.kind === 'no_stream') {
      const expectedRevision = expected.kind === 'revision' ? expected.revision : NO_STREAM;
      if (expectedRevision >= current) return undefined;
      firstIndex = Number(expectedRevision + 1n);
    } else {
      firstIndex = existing.findIndex((event) => event.id === proposed[0]!.id);
      if (firstIndex < 0) return undefined;
    }
    const matches = proposed.every((event, offset) => existing[firstIndex + offset]?.id === event.id);
    if (!matches) return expected.kind === 'any' || expected.kind === 'stream_exists' ? undefined : wrongExpectedVersion(current);
    const last = existing[firstIndex + proposed.length - 1]!;
    return { kind: 'success', currentRevision: last.revision, position: last.position };
  }
}

function wrongExpectedVersion(current: bigint): AppendOutcome {
  return { kind: 'wrong_expected_version', currentRevision: current === NO_STREAM ? undefined : current };
}
