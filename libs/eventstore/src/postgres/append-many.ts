import type { ClientBase } from 'pg';
import { StreamsRefusedError, type AppendResult, type StreamAppend, type StreamEvents, type WritesBeside } from '../event-store';
import type { Queryable } from './append';
import { newEventId } from '../event-id';
import { toPosition } from './rows';
import { APPEND_ANY_FUNCTION, APPEND_EXPECTING_FUNCTION, REVISION_REFUSED_SQLSTATE } from './schema';

/**
 * The `appended` step of a multi-stream append: inserts the JSON document's events after the
 * revisions the `claimed` step took for their streams (`input` holds each stream's count), in the
 * document's order.
 */
function appendClaimed(documentParameter: string, condition = ''): string {
  return `appended AS (
    INSERT INTO es_events (stream_name, stream_revision, event_id, type, data, metadata)
    SELECT e.stream_name, c.revision - i.n + e.k, e.id, e.type, e.data, e.metadata
    FROM ROWS FROM (jsonb_to_recordset(${documentParameter}::jsonb) AS (stream_name text, k bigint, id uuid, type text, data jsonb, metadata jsonb))
           WITH ORDINALITY AS e(stream_name, k, id, type, data, metadata, ord)
    JOIN input i ON i.stream_name = e.stream_name
    JOIN claimed c ON c.stream_name = e.stream_name
    ${condition}
    ORDER BY e.ord
    RETURNING stream_name, seq
  )`;
}

/**
 * Claims every stream's revisions and inserts every event in one statement. Stream rows are
 * claimed like a single append does (insert for a new stream, update guarded by the revision
 * otherwise); when any claim fails no event is inserted and the caller rolls the claims back.
 */
const APPEND_MANY = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS i(stream_name, expected, n)
  ),
  created AS (
    INSERT INTO es_streams (stream_name, revision)
    SELECT stream_name, n - 1 FROM input WHERE expected = -1 ORDER BY stream_name
    ON CONFLICT (stream_name) DO NOTHING
    RETURNING stream_name, revision
  ),
  updated AS (
    UPDATE es_streams s SET revision = s.revision + i.n
    FROM input i
    WHERE i.expected >= 0 AND s.stream_name = i.stream_name AND s.revision = i.expected
    RETURNING s.stream_name, s.revision
  ),
  claimed AS (SELECT stream_name, revision FROM created UNION ALL SELECT stream_name, revision FROM updated),
  ${appendClaimed('$4', 'WHERE (SELECT count(*) FROM claimed) = cardinality($1::text[])')}
  SELECT c.stream_name, c.revision::text AS revision, pg_current_xact_id()::text AS commit, a.prepare
  FROM claimed c LEFT JOIN (SELECT stream_name, max(seq)::text AS prepare FROM appended GROUP BY stream_name) a USING (stream_name)`;

/**
 * Appends to several streams in one round trip, inside the transaction the caller has open on
 * `client`: all or nothing, each stream guarded by its own expected revision. A refused stream
 * leaves the caller's transaction as it was (the claims roll back to a savepoint); every refused
 * stream is named in the StreamsRefusedError (a WrongExpectedRevisionError) thrown. Results come in the order of `appends`.
 */
export async function appendManyWithin(client: ClientBase, appends: readonly StreamAppend[]): Promise<AppendResult[]> {
  const streams = appends;
  checkStreams(streams, 'appendManyWithin');
  if (streams.length === 0) return [];
  const flat = streams.flatMap((append) => append.events.map((event, index) => ({ streamName: append.streamName, k: index + 1, event })));
  const values = [
    streams.map((append) => append.streamName),
    streams.map((append) => String(append.expectedRevision)),
    streams.map((append) => String(append.events.length)),
    // One JSON document rather than arrays of JSON texts: no array-literal escaping on either side.
    JSON.stringify(
      flat.map(({ streamName, k, event }) => ({
        stream_name: streamName,
        k,
        id: event.id ?? newEventId(),
        type: event.type,
        data: event.data,
        metadata: event.metadata ?? {},
      })),
    ),
  ];
  await client.query('SAVEPOINT tessera_append_many');
  let rows: { stream_name: string; revision: string; commit: string; prepare: string | null }[];
  try {
    rows = (await client.query({ name: 'tessera_es_append_many', text: APPEND_MANY, values })).rows;
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT tessera_append_many');
    throw error;
  }
  const claimed = new Map(rows.map((row) => [row.stream_name, row]));
  const refused = streams.filter((append) => !claimed.has(append.streamName)).map((append) => append.streamName);
  if (refused.length > 0) {
    await client.query('ROLLBACK TO SAVEPOINT tessera_append_many');
    throw new StreamsRefusedError(refused);
  }
  await client.query('RELEASE SAVEPOINT tessera_append_many');
  return streams.map((append) => {
    const row = claimed.get(append.streamName)!;
    return { nextExpectedRevision: BigInt(row.revision), position: toPosition(row.commit, row.prepare!) };
  });
}

/**
 * Creates several streams that must not exist yet, with their first events, in one statement and
 * so in one autocommit transaction: all or none. No ON CONFLICT here on purpose: a stream that
 * exists (or is being created by a concurrent transaction, which this one then waits for) fails
 * the whole statement with a unique violation, and a failed statement leaves nothing behind.
 */
const START_STREAMS = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bigint[]) AS i(stream_name, n)
  ),
  created AS (
    INSERT INTO es_streams (stream_name, revision)
    SELECT stream_name, n - 1 FROM input ORDER BY stream_name
    RETURNING stream_name, revision
  ),
  appended AS (
    INSERT INTO es_events (stream_name, stream_revision, event_id, type, data, metadata)
    SELECT e.stream_name, e.k - 1, e.id, e.type, e.data, e.metadata
    FROM ROWS FROM (jsonb_to_recordset($3::jsonb) AS (stream_name text, k bigint, id uuid, type text, data jsonb, metadata jsonb))
           WITH ORDINALITY AS e(stream_name, k, id, type, data, metadata, ord)
    JOIN created c ON c.stream_name = e.stream_name
    ORDER BY e.ord
    RETURNING stream_name, seq
  )
  SELECT c.stream_name, c.revision::text AS revision, pg_current_xact_id()::text AS commit,
         (SELECT max(a.seq) FROM appended a WHERE a.stream_name = c.stream_name)::text AS prepare
  FROM created c`;

/** A multi-stream append names each stream once, each with events: anything else is a caller's mistake. */
function checkStreams(streams: readonly StreamEvents[], caller: string): void {
  if (streams.some((stream) => stream.events.length === 0)) throw new Error(`${caller}: every stream needs events`);
  if (new Set(streams.map((stream) => stream.streamName)).size !== streams.length)
    throw new Error(`${caller}: each stream may appear once`);
}

/** START_STREAMS' parameters: stream names, event counts, and every event in one JSON document. */
function streamsParameters(streams: readonly StreamEvents[]): unknown[] {
  checkStreams(streams, 'startStreams');
  return [
    streams.map((stream) => stream.streamName),
    streams.map((stream) => String(stream.events.length)),
    JSON.stringify(
      streams.flatMap((stream) =>
        stream.events.map((event, index) => ({
          stream_name: stream.streamName,
          k: index + 1,
          id: event.id ?? newEventId(),
          type: event.type,
          data: event.data,
          metadata: event.metadata ?? {},
        })),
      ),
    ),
  ];
}

type StreamRow = { stream_name: string; revision: string; commit: string; prepare: string };

function resultsInOrder(streams: readonly StreamEvents[], rows: readonly StreamRow[]): AppendResult[] {
  const byStream = new Map(rows.map((row) => [row.stream_name, row]));
  return streams.map((stream) => {
    const row = byStream.get(stream.streamName)!;
    return { nextExpectedRevision: BigInt(row.revision), position: toPosition(row.commit, row.prepare) };
  });
}

/** See START_STREAMS. @throws StreamsRefusedError naming the streams that already existed. */
export async function startStreams(db: Queryable, streams: readonly StreamEvents[]): Promise<AppendResult[]> {
  if (streams.length === 0) return [];
  const values = streamsParameters(streams);
  let rows: StreamRow[];
  try {
    rows = (await db.query<StreamRow>({ name: 'tessera_es_start_streams', text: START_STREAMS, values })).rows;
  } catch (error) {
    if (!isExistingStream(error)) throw error;
    const existing = await db.query<{ stream_name: string }>({
      name: 'tessera_es_existing_streams',
      text: 'SELECT stream_name FROM es_streams WHERE stream_name = ANY($1::text[])',
      values: [streams.map((stream) => stream.streamName)],
    });
    const names = existing.rows.map((row) => row.stream_name);
    throw new StreamsRefusedError(names.length > 0 ? names : [streams[0]!.streamName]);
  }
  return resultsInOrder(streams, rows);
}

/**
 * Appends to several streams at any revision in one statement (one autocommit transaction), each
 * through the store's own es_append_any, or es_append_expecting where a stream is guarded by a
 * revision (`expecting`). Streams go in name order, so two such appends sharing streams lock their
 * rows in one order and cannot deadlock.
 */
function appendToStreamsQuery(documentParameter: number, expecting = false): string {
  const append = expecting
    ? `${APPEND_EXPECTING_FUNCTION}(s.stream_name, s.expected, s.events)`
    : `${APPEND_ANY_FUNCTION}(s.stream_name, s.events)`;
  return `
  SELECT s.stream_name, a.new_revision::text AS revision, pg_current_xact_id()::text AS commit, a.last_seq::text AS prepare
  FROM (SELECT * FROM jsonb_to_recordset($${documentParameter}::jsonb) AS s(stream_name text, expected bigint, events jsonb) ORDER BY stream_name) s
  CROSS JOIN LATERAL ${append} a`;
}

const APPEND_TO_STREAMS = appendToStreamsQuery(1);

export async function appendToStreams(db: Queryable, streams: readonly StreamEvents[]): Promise<AppendResult[]> {
  if (streams.length === 0) return [];
  const { rows } = await db.query<StreamRow>({
    name: 'tessera_es_append_to_streams',
    text: APPEND_TO_STREAMS,
    values: [appendDocument(streams, 'appendToStreams')],
  });
  return resultsInOrder(streams, rows);
}

/**
 * appendToStreams with `beside` in the same statement: one round trip, one commit. A stream with an
 * `expectedRevision` is appended only at that revision; when one is not, the whole statement fails
 * (the caller's writes with it) and StreamsRefusedError names that stream.
 */
export async function appendToStreamsBeside(
  db: Queryable,
  streams: readonly (StreamEvents | StreamAppend)[],
  beside: WritesBeside,
): Promise<AppendResult[]> {
  const expecting = streams.some((stream) => 'expectedRevision' in stream);
  const values = [...beside.values, appendDocument(streams, 'appendToStreamsBeside')];
  const text = `WITH ${beside.withQueries} ${appendToStreamsQuery(values.length, expecting)}`;
  const name = `tessera_es_append_beside_${beside.shape}${expecting ? '_expecting' : ''}`;
  try {
    const { rows } = await db.query<StreamRow>({ name, text, values });
    return resultsInOrder(streams, rows);
  } catch (error) {
    const refused = error as { code?: string; detail?: string };
    if (refused.code === REVISION_REFUSED_SQLSTATE) throw new StreamsRefusedError([refused.detail ?? streams[0]!.streamName]);
    throw error;
  }
}

function appendDocument(streams: readonly (StreamEvents | StreamAppend)[], caller: string): string {
  checkStreams(streams, caller);
  return JSON.stringify(
    streams.map((stream) => ({
      stream_name: stream.streamName,
      // A JSON number: revisions stay far below 2^53.
      ...('expectedRevision' in stream ? { expected: Number(stream.expectedRevision) } : {}),
      events: stream.events.map((event) => ({
        id: event.id ?? newEventId(),
        type: event.type,
        data: event.data,
        metadata: event.metadata ?? {},
      })),
    })),
  );
}

function isExistingStream(error: unknown): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError.code === '23505' && pgError.constraint === 'es_streams_pkey';
}
