import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { WrongExpectedRevisionError, type AppendResult, type EventToAppend, type ExpectedRevision, type Position } from '../event-store';
import { newEventId } from '../event-id';
import { toPosition } from './rows';

/** What both a pool and a checked-out client offer; appends run on either. */
export interface Queryable {
  query<R extends QueryResultRow>(config: QueryConfig): Promise<QueryResult<R>>;
}

type Rule = 'any' | 'no_stream' | 'stream_exists' | 'exact';

/**
 * The stream row is the lock appenders of one stream serialise on. Each variant returns the
 * stream's new last revision, or no row when the expectation does not hold. Under READ COMMITTED a
 * blocked UPDATE re-evaluates its WHERE against the winner's row, and ON CONFLICT DO NOTHING waits
 * for a concurrent insert of the same key, so exactly one appender wins each revision.
 */
const STREAM_UPDATE: Record<Rule, string> = {
  any: `INSERT INTO es_streams AS s (stream_name, revision) VALUES ($1, $2::bigint - 1)
        ON CONFLICT (stream_name) DO UPDATE SET revision = s.revision + $2::bigint RETURNING s.revision`,
  no_stream: `INSERT INTO es_streams (stream_name, revision) VALUES ($1, $2::bigint - 1)
              ON CONFLICT (stream_name) DO NOTHING RETURNING revision`,
  stream_exists: `UPDATE es_streams SET revision = revision + $2::bigint WHERE stream_name = $1 RETURNING revision`,
  exact: `UPDATE es_streams SET revision = revision + $2::bigint WHERE stream_name = $1 AND revision = $4::bigint
          RETURNING revision`,
};

/**
 * One statement, one round trip: claim the revisions on the stream row, then insert the whole batch
 * from one JSON document (no array-literal escaping of every body on either side). `ORDER BY e.ord`
 * makes seq follow the batch order.
 */
function appendStatement(rule: Rule): string {
  return `WITH stream AS (${STREAM_UPDATE[rule]}),
    appended AS (
      INSERT INTO es_events (stream_name, stream_revision, event_id, type, data, metadata)
      SELECT $1, stream.revision - $2::bigint + e.ord, e.id, e.type, e.data, e.metadata
      FROM stream, ROWS FROM (jsonb_to_recordset($3::jsonb) AS (id uuid, type text, data jsonb, metadata jsonb))
             WITH ORDINALITY AS e(id, type, data, metadata, ord)
      ORDER BY e.ord
      RETURNING seq)
    SELECT stream.revision::text AS revision, pg_current_xact_id()::text AS commit,
           (SELECT max(seq) FROM appended)::text AS prepare
    FROM stream`;
}

const STATEMENTS = Object.fromEntries(
  (Object.keys(STREAM_UPDATE) as Rule[]).map((rule) => [rule, { name: `tessera_es_append_${rule}`, text: appendStatement(rule) }]),
) as Record<Rule, { name: string; text: string }>;

export interface AppendRequest {
  readonly streamName: string;
  readonly events: readonly EventToAppend[];
  readonly expected: ExpectedRevision;
  /**
   * Set when the append runs in a transaction the caller holds: a failed statement aborts that
   * transaction, so a duplicate event id cannot be looked up there and is rethrown as is.
   */
  readonly inCallerTransaction: boolean;
}

export async function appendEvents(db: Queryable, request: AppendRequest): Promise<AppendResult> {
  const { streamName, events, expected } = request;
  if (events.length === 0) return currentState(db, streamName, expected);
  const rule = ruleOf(expected);
  const ids = events.map((event) => event.id ?? newEventId());
  const values: unknown[] = [
    streamName,
    String(events.length),
    JSON.stringify(events.map((event, index) => ({ id: ids[index], type: event.type, data: event.data, metadata: event.metadata ?? {} }))),
  ];
  if (rule === 'exact') values.push(String(expected));
  try {
    const { rows } = await db.query<{ revision: string; commit: string; prepare: string }>({ ...STATEMENTS[rule], values });
    const row = rows[0];
    if (row) return { nextExpectedRevision: BigInt(row.revision), position: toPosition(row.commit, row.prepare) };
  } catch (error) {
    if (!isDuplicateEventId(error) || request.inCallerTransaction) throw error;
  }
  const callerChoseIds = events.every((event) => event.id !== undefined);
  return explainRejection(db, streamName, expected, callerChoseIds ? ids : []);
}

function ruleOf(expected: ExpectedRevision): Rule {
  if (typeof expected !== 'bigint') return expected;
  if (expected === -1n) return 'no_stream';
  if (expected < -1n) throw new RangeError(`not an expected revision: ${expected}`);
  return 'exact';
}

function isDuplicateEventId(error: unknown): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError.code === '23505' && pgError.constraint === 'es_events_event_id_key';
}

function holds(expected: ExpectedRevision, actual: bigint): boolean {
  switch (ruleOf(expected)) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === -1n;
    case 'stream_exists':
      return actual !== -1n;
    case 'exact':
      return actual === expected;
  }
}

async function currentState(db: Queryable, streamName: string, expected: ExpectedRevision): Promise<AppendResult> {
  const { rows } = await db.query<{ revision: string; commit: string; prepare: string }>({
    name: 'tessera_es_stream_state',
    text: `SELECT s.revision::text AS revision, e.transaction_id::text AS commit, e.seq::text AS prepare
           FROM es_streams s JOIN es_events e ON e.stream_name = s.stream_name AND e.stream_revision = s.revision
           WHERE s.stream_name = $1`,
    values: [streamName],
  });
  const row = rows[0];
  const actual = row ? BigInt(row.revision) : -1n;
  if (!holds(expected, actual)) throw new WrongExpectedRevisionError(streamName, expected, actual);
  // A stream that does not exist has no events to point at: its position is the start of the log.
  return { nextExpectedRevision: actual, position: row ? toPosition(row.commit, row.prepare) : { commit: 0n, prepare: 0n } };
}

interface StoredId {
  id: string;
  stream: string;
  revision: string;
  commit: string;
  prepare: string;
}

/**
 * Runs only after an append was refused, so its second round trip costs nothing on the happy
 * path. A batch whose ids are all already stored, in order, where the expectation placed them is
 * a retry of an append that succeeded (e.g. the reply was lost): it answers like the original.
 */
async function explainRejection(
  db: Queryable,
  streamName: string,
  expected: ExpectedRevision,
  ids: readonly string[],
): Promise<AppendResult> {
  const { rows } = await db.query<{ revision: string | null; stored: StoredId[] }>({
    name: 'tessera_es_explain_rejection',
    text: `SELECT (SELECT revision::text FROM es_streams WHERE stream_name = $1) AS revision,
             (SELECT coalesce(json_agg(json_build_object('id', event_id, 'stream', stream_name,
                'revision', stream_revision::text, 'commit', transaction_id::text, 'prepare', seq::text)), '[]')
              FROM es_events WHERE event_id = ANY($2::uuid[])) AS stored`,
    values: [streamName, ids],
  });
  const { revision, stored } = rows[0]!;
  const actual = revision === null ? -1n : BigInt(revision);
  const replayed = replayedAppend(streamName, expected, ids, stored);
  if (replayed) return replayed;
  if (stored.length > 0) {
    throw new Error(`stream ${streamName}: event id ${stored[0]!.id} is already stored by another append`);
  }
  throw new WrongExpectedRevisionError(streamName, expected, actual);
}

function replayedAppend(
  streamName: string,
  expected: ExpectedRevision,
  ids: readonly string[],
  stored: readonly StoredId[],
): AppendResult | undefined {
  if (ids.length === 0 || stored.length !== ids.length) return undefined;
  const byId = new Map(stored.map((row) => [row.id, row]));
  // PostgreSQL prints uuids in lower case whatever case the caller used.
  const first = byId.get(ids[0]!.toLowerCase());
  if (!first || first.stream !== streamName) return undefined;
  const firstRevision = BigInt(first.revision);
  const rule = ruleOf(expected);
  if (rule === 'no_stream' && firstRevision !== 0n) return undefined;
  if (rule === 'exact' && firstRevision !== (expected as bigint) + 1n) return undefined;
  let last: { revision: bigint; position: Position } | undefined;
  for (const [index, id] of ids.entries()) {
    const row = byId.get(id.toLowerCase());
    if (!row || row.stream !== streamName || BigInt(row.revision) !== firstRevision + BigInt(index)) return undefined;
    last = { revision: BigInt(row.revision), position: toPosition(row.commit, row.prepare) };
  }
  return last && { nextExpectedRevision: last.revision, position: last.position };
}
