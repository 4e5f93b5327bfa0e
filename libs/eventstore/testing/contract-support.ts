import { eventually as poll } from '#platform/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  comparePositions,
  WrongExpectedRevisionError,
  type AllSubscription,
  type EventFilter,
  type EventStore,
  type EventToAppend,
  type JsonObject,
  type Position,
  type RecordedEvent,
} from '../src/event-store';

/** A transaction holding an append open; the events become visible when it commits. */
export interface HeldAppend {
  commit(): Promise<void>;
}

export interface EventStoreHarness<S extends EventStore = EventStore> {
  /** Called once per contract run; the suite closes the store afterwards. */
  create(): Promise<S>;
  /**
   * For adapters where a writer's place in the global order is fixed before it commits
   * (PostgreSQL): append inside a transaction that stays open until `commit()`, so the suite can
   * prove later commits are held back rather than let the held one be skipped.
   */
  holdOpenTransaction?(store: S, streamName: string, events: readonly EventToAppend[]): Promise<HeldAppend>;
  /**
   * Whether the adapter appends to several streams atomically at expected revisions
   * (`appendToStreamsExpecting`); the suite checks the store says the same, and its behaviour when it does.
   */
  readonly appendsToStreamsAtomically: boolean;
}

/** Everything a test writes lives under its own prefix, so the contract also runs on a shared store. */
export function uniquePrefix(label: string): string {
  return `contract_${label}_${randomBytes(5).toString('hex')}`;
}

export function anEvent(type: string, data: JsonObject = {}, metadata?: JsonObject): EventToAppend {
  return metadata ? { id: randomUUID(), type, data, metadata } : { id: randomUUID(), type, data };
}

export function events(count: number, type = 'Thing.Happened', from = 0): EventToAppend[] {
  return Array.from({ length: count }, (_, index) => anEvent(type, { n: from + index }));
}

/** Subscribes after everything already in the store. */
export async function subscribeFromHead(store: EventStore, filter: EventFilter) {
  const head = await store.headPosition();
  return store.subscribeToAll({ from: head ?? 'start', filter });
}

const TIMED_OUT = Symbol('timed out');

/** A guard against hanging until jest's own timeout, not a performance expectation. */
const PATIENCE_MS = 20_000;

/**
 * Reads a subscription with a time limit per event. A read that times out stays pending and is
 * the one the next call picks up, so no event is lost between calls.
 */
export class EventReader {
  private pending?: Promise<IteratorResult<RecordedEvent>>;

  constructor(private readonly iterator: AsyncIterator<RecordedEvent>) {}

  static of(subscription: AllSubscription): EventReader {
    return new EventReader(subscription[Symbol.asyncIterator]());
  }

  /** The next result, or `undefined` when nothing arrives within `ms`. */
  async next(ms = PATIENCE_MS): Promise<IteratorResult<RecordedEvent> | undefined> {
    this.pending ??= this.iterator.next();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
    const result = await Promise.race([this.pending, timeout]);
    clearTimeout(timer);
    if (result === TIMED_OUT) return undefined;
    this.pending = undefined;
    return result;
  }

  async take(count: number): Promise<RecordedEvent[]> {
    const received: RecordedEvent[] = [];
    while (received.length < count) received.push(await this.event(`${received.length} of ${count} events`));
    return received;
  }

  /** Reads up to and including the event with `lastId`. */
  async until(lastId: string): Promise<RecordedEvent[]> {
    const received: RecordedEvent[] = [];
    do received.push(await this.event(`${received.length} events, waiting for ${lastId}`));
    while (received[received.length - 1]!.id !== lastId);
    return received;
  }

  private async event(progress: string): Promise<RecordedEvent> {
    const result = await this.next();
    if (!result) throw new Error(`no event within ${PATIENCE_MS} ms after ${progress}`);
    if (result.done) throw new Error(`subscription ended after ${progress}`);
    return result.value;
  }
}

/** Polls until `check` passes; for effects that are eventually visible on a shared server. */
export function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  return poll(check, { timeoutMs: PATIENCE_MS, intervalMs: 10, what });
}

export function expectStrictlyIncreasing(positions: readonly Position[]): void {
  for (let index = 1; index < positions.length; index++) {
    expect(comparePositions(positions[index - 1]!, positions[index]!)).toBe(-1);
  }
}

/** Every stream's events appear in revision order, starting at `firstRevision`. */
export function expectStreamOrder(received: readonly RecordedEvent[], firstRevision = 0n): void {
  const nextRevision = new Map<string, bigint>();
  for (const event of received) {
    const expected = nextRevision.get(event.streamName) ?? firstRevision;
    expect({ stream: event.streamName, revision: event.revision }).toEqual({ stream: event.streamName, revision: expected });
    nextRevision.set(event.streamName, expected + 1n);
  }
}

export async function rejection(promise: Promise<unknown>): Promise<WrongExpectedRevisionError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(WrongExpectedRevisionError);
  return error as WrongExpectedRevisionError;
}

/** `actual` is optional in the port; when an adapter reports it, it must be right. */
export function expectActual(error: WrongExpectedRevisionError, actual: bigint): void {
  if (error.actual !== undefined) expect(error.actual).toBe(actual);
}

export function ids(list: readonly { id?: string }[]): string[] {
  return list.map((item) => item.id!);
}
