import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { JsonValue } from '#eventstore';
import { deriveKeys, PersonalDataCodec, PersonalKeyStore } from '#personal-data';
import { createTestDatabase } from '../../../../test/support/database';
import { ExportParts, exportPartsTableDdl, jsonObjectFragments, SectionObject } from './export-parts';
import { exportPendingTableDdl } from './export-sections';
import { exportSubject } from './export.events';

/** A service's sections as they are written (paged, chunked, sealed) and read back: the same JSON, whole and in order. */
describe('export parts', () => {
  let pool: Pool;
  let keys: PersonalKeyStore;
  let parts: ExportParts;
  const tenantId = randomUUID();
  beforeAll(async () => {
    pool = new Pool({ connectionString: await createTestDatabase('parts'), max: 2 });
    keys = new PersonalKeyStore(pool, deriveKeys(randomBytes(32)).keyWrappingKey);
    await keys.migrate();
    await pool.query(exportPartsTableDdl('test_export_parts'));
    await pool.query(exportPendingTableDdl('test_export_parts'));
    parts = new ExportParts('test_export_parts', new PersonalDataCodec(keys));
  });
  afterAll(() => pool.end());
  /** A pending row leased to `token`, as the writer holds it while it writes. */
  const leased = async (exportId: string, token = randomUUID()) => {
    await pool.query(
      `INSERT INTO test_export_parts_pending (tenant_id, export_id, identities, correlation_id, causation_id, lease, leased_until)
       VALUES ($1, $2, '{}', 'c', $3, $4, now() + interval '1 minute')`,
      [tenantId, exportId, randomUUID(), token],
    );
    return { token, seconds: 60 };
  };
  const finished = (exportId: string) => pool.query('DELETE FROM test_export_parts_pending WHERE export_id = $1', [exportId]);
  const read = async (exportId: string) => {
    let text = '';
    for await (const chunk of parts.read(pool, tenantId, exportId)) text += chunk;
    return text;
  };

  async function* pages(count: number, size: number): AsyncGenerator<JsonValue[]> {
    for (let page = 0; page < count; page++) yield Array.from({ length: size }, (_, i) => ({ n: page * size + i, pad: 'x'.repeat(200) }));
  }

  test('thousands of items in many pages, nested objects with paged lists, empty lists: read back as the JSON they make', async () => {
    const exportId = randomUUID();
    const section = jsonObjectFragments({
      head: { a: 1 },
      empty: pages(0, 0),
      items: pages(7, 500),
      nested: pages(1, 0),
      objects: (async function* () {
        yield [new SectionObject({ id: 'one', list: pages(3, 400) }), new SectionObject({ id: 'two', list: pages(0, 0) })];
      })(),
    });
    expect(await parts.write(pool, tenantId, exportId, await leased(exportId), section)).toBe('written');
    // Not served while its pending row is there: the writer has not said it is whole.
    expect(await parts.has(pool, tenantId, exportId)).toBe(false);
    await finished(exportId);
    expect(await parts.has(pool, tenantId, exportId)).toBe(true);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM test_export_parts WHERE export_id = $1', [exportId]);
    expect(rows[0].n).toBeGreaterThan(10);
    const document = JSON.parse(await read(exportId));
    expect(document.head).toEqual({ a: 1 });
    expect(document.empty).toEqual([]);
    expect(document.items.map((item: { n: number }) => item.n)).toEqual(Array.from({ length: 3500 }, (_, i) => i));
    expect(document.objects.map((item: { id: string; list: unknown[] }) => [item.id, item.list.length])).toEqual([
      ['one', 1200],
      ['two', 0],
    ]);
  });

  test('once the export key is destroyed nothing is written, and what was written no longer reads', async () => {
    const exportId = randomUUID();
    const lease = await leased(exportId);
    expect(await parts.write(pool, tenantId, exportId, lease, jsonObjectFragments({ items: pages(2, 10) }))).toBe('written');
    await keys.destroy(tenantId, exportSubject(exportId));
    await expect(read(exportId)).rejects.toThrow();
    expect(await parts.write(pool, tenantId, exportId, lease, jsonObjectFragments({ items: pages(2, 10) }))).toBe('erased');
  });

  test('only the holder of the lease writes: a writer whose lease was taken over writes nothing more', async () => {
    const exportId = randomUUID();
    await leased(exportId, randomUUID());
    const stale = { token: randomUUID(), seconds: 60 };
    expect(await parts.write(pool, tenantId, exportId, stale, jsonObjectFragments({ items: pages(3, 400) }))).toBe('lost');
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM test_export_parts WHERE export_id = $1', [exportId]);
    expect(rows[0].n).toBe(0);
  });
});
