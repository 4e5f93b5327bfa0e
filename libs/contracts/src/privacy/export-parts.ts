import { Readable } from 'node:stream';
import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Pool } from 'pg';
import type { EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import type { JsonObject, JsonValue } from '#eventstore';
import { SubjectErasedError, type PersonalDataCodec } from '#personal-data';
import { isUuid, ProblemError, type ApiOperation } from '#platform';
import { exportPartTokenValid, exportSubject, type ExportIdentities, type ExportService } from './export.events';

/** A section's chunks are sealed this large at most (plus one fragment): a few thousand events make a few dozen rows. */
const CHUNK_CHARS = 64 * 1024;
/** Chunks read per query when a section is served. */
const CHUNKS_PER_READ = 8;

/** Each service's table of export parts: its section of each export, in sealed chunks. */
export function exportPartsTableDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
    tenant_id uuid NOT NULL,
    export_id uuid NOT NULL,
    seq integer NOT NULL,
    chunk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, export_id, seq)
  )`;
}

/**
 * The migration that creates a service's table of export parts, named as its migrations are
 * (`<Service>ExportParts<timestamp>`, the timestamp TypeORM orders by).
 */
export function exportPartsMigration(table: string, name: string): new () => MigrationInterface {
  return tableMigration(name, table, exportPartsTableDdl(table));
}

/** A migration that creates one table (and drops it going down). */
export function tableMigration(name: string, table: string, ddl: string): new () => MigrationInterface {
  return class implements MigrationInterface {
    readonly name = name;

    async up(runner: QueryRunner): Promise<void> {
      await runner.query(ddl);
    }

    async down(runner: QueryRunner): Promise<void> {
      await runner.query(`DROP TABLE IF EXISTS ${table}`);
    }
  };
}

/**
 * A value of a section: in one piece, an object some of whose values are long (see SectionObject),
 * or a list produced a page at a time (tracked events, wallet history).
 */
export type SectionValue = JsonValue | SectionObject | AsyncIterable<readonly (JsonValue | SectionObject)[]>;

/** An object in a section whose values may themselves be paged: written out field by field. */
export class SectionObject {
  constructor(readonly fields: Readonly<Record<string, SectionValue>>) {}
}

const isPaged = (value: SectionValue): value is AsyncIterable<readonly (JsonValue | SectionObject)[]> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

async function* valueFragments(value: SectionValue): AsyncGenerator<string> {
  if (value instanceof SectionObject) {
    yield* jsonObjectFragments(value.fields);
    return;
  }
  if (!isPaged(value)) {
    yield JSON.stringify(value);
    return;
  }
  yield '[';
  let first = true;
  for await (const page of value) {
    for (const item of page) {
      if (!first) yield ',';
      first = false;
      yield* valueFragments(item);
    }
  }
  yield ']';
}

/** A JSON object written out as text fragments, its paged lists a page at a time: never the whole in memory. */
export async function* jsonObjectFragments(fields: Readonly<Record<string, SectionValue>>): AsyncGenerator<string> {
  yield '{';
  let first = true;
  for (const [name, value] of Object.entries(fields)) {
    yield `${first ? '' : ','}${JSON.stringify(name)}:`;
    first = false;
    yield* valueFragments(value);
  }
  yield '}';
}

/** Anything that runs one statement: a pool, or a transaction's manager. */
export interface Queryable {
  query(sql: string, params: unknown[]): Promise<unknown>;
}

/**
 * One service's sections of exports, in its own table, each chunk sealed under the export's key:
 * once register destroys that key (the link expired, the person was erased) what is left is
 * unreadable, and the rows are deleted when the discard reaches the service.
 *
 * A section is written by whoever holds the lease on its row in the pending table (see
 * export-sections.ts), a chunk per statement: no transaction stays open while a long history is
 * gathered. A section is whole once its pending row is gone; until then it is not served.
 */
export class ExportParts {
  /** The sections still to write, one row per export (see export-sections.ts). */
  readonly pendingTable: string;

  constructor(
    readonly table: string,
    private readonly personalData: PersonalDataCodec,
  ) {
    this.pendingTable = `${table}_pending`;
  }

  /**
   * Writes the section as the holder of `lease`, each chunk in a statement of its own that also
   * renews the lease. Answers 'written'; 'lost' when the lease is no longer ours (the export was
   * discarded, or our lease ran out and another writer took it over: we stop, it writes); 'erased'
   * when the export's key is gone.
   */
  async write(db: Queryable, tenantId: string, exportId: string, lease: LeaseOf, fragments: AsyncIterable<string>): Promise<WriteOutcome> {
    // A crashed earlier attempt may have left chunks behind; only the lease holder may clear them.
    await db.query(
      `DELETE FROM ${this.table} WHERE tenant_id = $1 AND export_id = $2
         AND EXISTS (SELECT 1 FROM ${this.pendingTable} WHERE tenant_id = $1 AND export_id = $2 AND lease = $3)`,
      [tenantId, exportId, lease.token],
    );
    let seq = 0;
    let pending = '';
    const flush = async (): Promise<boolean> => {
      const chunk = await this.personalData.sealValue(tenantId, exportSubject(exportId), pending);
      pending = '';
      const result = (await db.query(
        `WITH owned AS (
           UPDATE ${this.pendingTable} SET leased_until = now() + make_interval(secs => $6)
            WHERE tenant_id = $1 AND export_id = $2 AND lease = $5 RETURNING 1)
         INSERT INTO ${this.table} (tenant_id, export_id, seq, chunk) SELECT $1, $2, $3, $4 FROM owned RETURNING 1`,
        [tenantId, exportId, seq++, JSON.stringify(chunk), lease.token, lease.seconds],
      )) as unknown;
      return rowCountOf(result) === 1;
    };
    try {
      for await (const fragment of fragments) {
        pending += fragment;
        if (pending.length >= CHUNK_CHARS && !(await flush())) return 'lost';
      }
      if ((pending.length > 0 || seq === 0) && !(await flush())) return 'lost';
      return 'written';
    } catch (error) {
      if (error instanceof SubjectErasedError) return 'erased';
      throw error;
    }
  }

  /** Deletes the section and any pending work on it. */
  async discard(tx: Queryable, tenantId: string, exportId: string): Promise<void> {
    await tx.query(`DELETE FROM ${this.pendingTable} WHERE tenant_id = $1 AND export_id = $2`, [tenantId, exportId]);
    await tx.query(`DELETE FROM ${this.table} WHERE tenant_id = $1 AND export_id = $2`, [tenantId, exportId]);
  }

  /** Whether the section is there to read: written whole, not discarded. */
  async has(db: Queryable, tenantId: string, exportId: string): Promise<boolean> {
    const result = await db.query(
      `SELECT 1 FROM ${this.table} WHERE tenant_id = $1 AND export_id = $2 AND seq = 0
         AND NOT EXISTS (SELECT 1 FROM ${this.pendingTable} WHERE tenant_id = $1 AND export_id = $2)`,
      [tenantId, exportId],
    );
    return rowsOf(result).length === 1;
  }

  /** The section's text, a chunk at a time; fails if the export's key is destroyed meanwhile (the stream is cut, never served in part as if whole). */
  async *read(pool: Pool, tenantId: string, exportId: string): AsyncGenerator<string> {
    for (let from = 0; ; from += CHUNKS_PER_READ) {
      const { rows } = await pool.query<{ chunk: JsonObject }>(
        `SELECT chunk FROM ${this.table} WHERE tenant_id = $1 AND export_id = $2 AND seq >= $3 ORDER BY seq LIMIT $4`,
        [tenantId, exportId, from, CHUNKS_PER_READ],
      );
      for (const row of rows) {
        const opened = await this.personalData.openValue(tenantId, row.chunk);
        if (opened.erased || typeof opened.value !== 'string') throw new SubjectErasedError(tenantId, exportSubject(exportId));
        yield opened.value;
      }
      if (rows.length < CHUNKS_PER_READ) return;
    }
  }
}

/** A writer's claim on one pending section: its token, and how long each renewal lasts. */
export interface LeaseOf {
  readonly token: string;
  readonly seconds: number;
}

export type WriteOutcome = 'written' | 'lost' | 'erased';

// pg answers { rows, rowCount }; TypeORM's manager answers the rows (or [rows, count] for writes).
function rowCountOf(result: unknown): number {
  if (Array.isArray(result)) return typeof result[1] === 'number' ? result[1] : result.length;
  return (result as { rowCount?: number | null }).rowCount ?? 0;
}

function rowsOf(result: unknown): unknown[] {
  return Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? []);
}

/** What a service gathers for a request: its section as text fragments (see jsonObjectFragments). */
export type SectionGatherer = (tx: EntityManager, tenantId: string, identities: ExportIdentities) => AsyncIterable<string>;

/** How a service serves its sections to register: its parts, its name, the key the links are signed with. */
export const EXPORT_PART_SOURCE = Symbol('ExportPartSource');
export interface ExportPartSource {
  readonly service: ExportService;
  readonly parts: ExportParts;
  readonly pool: Pool;
  readonly linkKey: Buffer;
}

/** The source of a service built on its infrastructure: its pool, and the link key every service derives alike. */
export function exportPartSource(
  service: ExportService,
  parts: ExportParts,
  infrastructure: { readonly pool: Pool; readonly internalLinkKey: Buffer },
): ExportPartSource {
  return { service, parts, pool: infrastructure.pool, linkKey: infrastructure.internalLinkKey };
}

const partNotFound = () =>
  new ProblemError({ status: 404, type: 'export-part-not-found', title: 'Export part not found', detail: 'no such section, or not ready' });

/**
 * `GET /internal/exports/{tenantId}/{exportId}/{service}`: the service's section as register fetches
 * it to stream the document, authorised by a link register signed for this one section a moment
 * before (see exportPartToken). Anything else, a forged or stale token included, is 404: the route
 * tells nothing to whoever finds it.
 */
@Controller('internal/exports')
export class ExportPartsController {
  constructor(@Inject(EXPORT_PART_SOURCE) private readonly source: ExportPartSource) {}

  @Get(':tenantId/:exportId/:service')
  async part(
    @Param('tenantId') tenantId: string,
    @Param('exportId') exportId: string,
    @Param('service') service: string,
    @Req() request: { headers: Record<string, string | string[] | undefined> },
    @Res() reply: FastifyReply,
  ) {
    const { parts, pool, linkKey } = this.source;
    const token = /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
    const valid =
      service === this.source.service &&
      isUuid(tenantId) &&
      isUuid(exportId) &&
      token !== undefined &&
      exportPartTokenValid(linkKey, { tenantId, exportId, service: this.source.service }, token, Date.now());
    if (!valid || !(await parts.has(pool, tenantId, exportId))) throw partNotFound();
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(Readable.from(parts.read(pool, tenantId, exportId)));
  }
}

/** The route above for a service's OpenAPI document. */
export const exportPartsApi: readonly ApiOperation[] = [
  {
    method: 'get',
    path: '/internal/exports/{tenantId}/{exportId}/{service}',
    summary:
      "This service's section of an export, as register fetches it to stream the document; authorised by a link register signed for this section (60 s)",
    tags: ['exports'],
    responses: { 200: 'the section (JSON, streamed)', 404: 'no such section, not ready, or a link not valid for it' },
  },
];
