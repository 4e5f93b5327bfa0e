import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileErasureLedger, type ErasureLedgerEntry } from './erasure-ledger';

const entry = (tenantId: string, erasureId: string, requestedAt: string): ErasureLedgerEntry => ({
  tenantId,
  erasureId,
  requestedBy: 'tenant',
  requestedAt,
  userIds: [`user-${erasureId}`],
  anonymousIds: [],
  emailIndexes: ['k1mX'],
});

describe('the erasure ledger on files', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ledger-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('reads back what every writer recorded, per tenant, oldest first', async () => {
    await new FileErasureLedger(dir, 'register-a').record(entry('t1', 'e2', '2026-12-02T00:00:00.000Z'));
    await new FileErasureLedger(dir, 'register-b').record(entry('t1', 'e1', '2026-12-01T00:00:00.000Z'));
    await new FileErasureLedger(dir, 'register-a').record(entry('t2', 'e3', '2026-12-03T00:00:00.000Z'));
    expect(readdirSync(dir).sort()).toEqual(['t1', 't2']);
    expect(readdirSync(join(dir, 't1')).sort()).toEqual(['register-a.jsonl', 'register-b.jsonl']);
    const read = await new FileErasureLedger(dir, 'recovery').entries();
    expect(read.map((found) => found.erasureId)).toEqual(['e1', 'e2', 'e3']);
    expect(read[0]).toEqual(entry('t1', 'e1', '2026-12-01T00:00:00.000Z'));
  });

  test('a line cut short by a crash, or one filed under another tenant, is not an erasure', async () => {
    const ledger = new FileErasureLedger(dir, 'register-a');
    await ledger.record(entry('t1', 'e1', '2026-12-01T00:00:00.000Z'));
    const file = join(dir, 't1', 'register-a.jsonl');
    appendFileSync(file, `${JSON.stringify(entry('t2', 'moved', '2026-12-02T00:00:00.000Z'))}\n`);
    appendFileSync(file, JSON.stringify(entry('t1', 'torn', '2026-12-03T00:00:00.000Z')).slice(0, 40));
    expect((await ledger.entries()).map((found) => found.erasureId)).toEqual(['e1']);
    // The same writer after a restart (same host name and pid in a container): its next record starts on a line of its own.
    await ledger.record(entry('t1', 'e4', '2026-12-04T00:00:00.000Z'));
    expect((await ledger.entries()).map((found) => found.erasureId)).toEqual(['e1', 'e4']);
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
  });

  test('an empty or missing directory holds no erasures', async () => {
    expect(await new FileErasureLedger(join(dir, 'none')).entries()).toEqual([]);
  });
});
