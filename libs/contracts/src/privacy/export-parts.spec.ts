import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { EntityManager } from 'typeorm';
import type { JsonValue } from '#eventstore';
import { deriveKeys, PersonalDataCodec, PersonalKeyStore } from '#personal-data';
import { createTestDatabase } from '../../../../test/support/database';
import { ExportParts, exportPartsTableDdl, jsonObjectFragments, SectionObject } from './export-parts';
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
    parts = new ExportParts('test_export_parts', new PersonalDataCodec(keys));
  });
  afterAll(() => pool.end());
  const tx = () => ({ query: (sql: string, params: unknown[]) => pool.query(sql, params) }) as unknown as EntityManager;
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
    expect(await parts.write(tx(), tenantId, exportId, section)).toBe(true);
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
    expect(await parts.write(tx(), tenantId, exportId, jsonObjectFragments({ items: pages(2, 10) }))).toBe(true);
    await keys.destroy(tenantId, exportSubject(exportId));
    await expect(read(exportId)).rejects.toThrow();
    expect(await parts.write(tx(), tenantId, exportId, jsonObjectFragments({ items: pages(2, 10) }))).toBe(false);
    expect(await parts.has(pool, tenantId, exportId)).toBe(false);
  });
});
