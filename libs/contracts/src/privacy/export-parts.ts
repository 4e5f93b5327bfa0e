import { Readable } from 'node:stream';
import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Pool } from 'pg';
import type { EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { appendFromProjection, type EventCodec, type EventEnvelope, type Projection } from '#cqrs';
import type { AppendedEvents, EventStore, JsonObject, JsonValue } from '#eventstore';
import { SubjectErasedError, type PersonalDataCodec } from '#personal-data';
import { ProblemError, type ApiOperation } from '#platform';
import { ERASURE_STREAM_PREFIX } from './erasure.events';
import {
  EXPORT_STREAM_PREFIX,
  ExportSectionReady,
  exportIdentitiesOf,
  exportPartTokenValid,
  exportStreamFor,
  exportSubject,
  type ExportIdentities,
  type ExportService,
} from './export.events';

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
  return class implements MigrationInterface {
    readonly name = name;

    async up(runner: QueryRunner): Promise<void> {
      await runner.query(exportPartsTableDdl(table));
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

/**
 * One service's sections of exports, in its own table, each chunk sealed under the export's key:
 * once register destroys that key (the link expired, the person was erased) what is left is
 * unreadable, and the rows are deleted when the discard reaches the service.
 */
export class ExportParts {
  constructor(
    private readonly table: string,
    private readonly personalData: PersonalDataCodec,
  ) {}

  /** Writes the section (replacing any earlier attempt); false when the export's key is already gone. */
  async write(tx: EntityManager, tenantId: string, exportId: string, fragments: AsyncIterable<string>): Promise<boolean> {
    await this.discard(tx, tenantId, exportId);
    let seq = 0;
    let pending = '';
    const flush = async () => {
      const chunk = await this.personalData.sealValue(tenantId, exportSubject(exportId), pending);
      await tx.query(`INSERT INTO ${this.table} (tenant_id, export_id, seq, chunk) VALUES ($1, $2, $3, $4)`, [
        tenantId,
        exportId,
        seq++,
        JSON.stringify(chunk),
      ]);
      pending = '';
    };
    try {
      for await (const fragment of fragments) {
        pending += fragment;
        if (pending.length >= CHUNK_CHARS) await flush();
      }
      if (pending.length > 0 || seq === 0) await flush();
      return true;
    } catch (error) {
      if (error instanceof SubjectErasedError) {
        await this.discard(tx, tenantId, exportId);
        return false;
      }
      throw error;
    }
  }

  async discard(tx: { query(sql: string, params: unknown[]): Promise<unknown> }, tenantId: string, exportId: string): Promise<void> {
    await tx.query(`DELETE FROM ${this.table} WHERE tenant_id = $1 AND export_id = $2`, [tenantId, exportId]);
  }

  /** Whether the section is there to read (written, not discarded). */
  async has(pool: Pool, tenantId: string, exportId: string): Promise<boolean> {
    const { rowCount } = await pool.query(`SELECT 1 FROM ${this.table} WHERE tenant_id = $1 AND export_id = $2 AND seq = 0`, [
      tenantId,
      exportId,
    ]);
    return rowCount === 1;
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

/** What a service gathers for a request: its section as text fragments (see jsonObjectFragments). */
export type SectionGatherer = (tx: EntityManager, tenantId: string, identities: ExportIdentities) => AsyncIterable<string>;

export interface ExportSectionDeps {
  readonly service: ExportService;
  readonly parts: ExportParts;
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly gather: SectionGatherer;
  /** Register's extra duty (discarding the exports of a person being erased): called for each ErasureRequested. */
  readonly onErasure?: (envelope: EventEnvelope, tx: EntityManager) => Promise<readonly AppendedEvents[]>;
}

/**
 * A service's part of every export: on ExportRequested it gathers its section for the identities
 * into its table and says so (ExportSectionReady); on ExportDiscarded it deletes it. A replay
 * rewrites the same section, and a request whose key is gone (discarded) is skipped.
 */
export function exportSectionProjection(deps: ExportSectionDeps): Projection {
  const types = ['ExportRequested', 'ExportDiscarded', ...(deps.onErasure ? ['ErasureRequested'] : [])];
  return {
    name: `${deps.service}.exports`,
    filter: {
      streamNamePrefixes: [EXPORT_STREAM_PREFIX, ...(deps.onErasure ? [ERASURE_STREAM_PREFIX] : [])],
      eventTypePrefixes: types,
    },
    maxBatch: 16,
    async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
      const appended: AppendedEvents[] = [];
      for (const envelope of envelopes) {
        const { tenantId } = envelope.metadata;
        const data = envelope.event.data as JsonObject;
        if (envelope.event.type === 'ErasureRequested') {
          appended.push(...((await deps.onErasure?.(envelope, tx)) ?? []));
          continue;
        }
        const exportId = String(data.exportId);
        if (envelope.event.type === 'ExportDiscarded') {
          await deps.parts.discard(tx, tenantId, exportId);
          continue;
        }
        const identities = envelope.erased ? undefined : exportIdentitiesOf(data);
        if (!identities) continue;
        if (!(await deps.parts.write(tx, tenantId, exportId, deps.gather(tx, tenantId, identities)))) continue;
        const now = new Date();
        const ready = await deps.codec.encode(ExportSectionReady({ exportId, service: deps.service, readyAt: now.toISOString() }), {
          tenantId,
          correlationId: envelope.metadata.correlationId || envelope.id,
          causationId: envelope.id,
          now,
        });
        const done = await appendFromProjection(deps.store, tx, exportStreamFor(tenantId, exportId), [ready]);
        if (done) appended.push(done);
      }
      return appended;
    },
  };
}

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
      UUID.test(tenantId) &&
      UUID.test(exportId) &&
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
