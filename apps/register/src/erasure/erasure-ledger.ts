import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ErasureIdentities } from '#contracts';

/**
 * One erasure request as the ledger keeps it: who is to be forgotten, by the pseudonymous ids the
 * request names (register's account ids, tracked userIds and anonymousIds the tenant chose, the
 * e-mail's blind index) — the same ids the destroyed keys' tombstones keep — and never a personal
 * value in clear.
 */
export interface ErasureLedgerEntry extends ErasureIdentities {
  readonly tenantId: string;
  readonly erasureId: string;
  readonly requestedBy: 'user' | 'tenant';
  readonly requestedAt: string;
}

/**
 * Erasure requests kept apart from both stores, so that restoring an older backup of the database
 * (read models, the per-person keys, and on the default tier the event log too) cannot bring an
 * erased person back: the recovery step re-applies what the ledger holds (see erasure-recovery.ts).
 * A request is recorded before it is appended to the event store, so every erasure the log ever
 * held is in the ledger.
 */
export abstract class ErasureLedger {
  abstract record(entry: ErasureLedgerEntry): Promise<void>;
  abstract entries(): Promise<ErasureLedgerEntry[]>;
}

/** No ledger configured (tests, laptops): a restore there may bring erased people back, and the README says so. */
export class NoErasureLedger extends ErasureLedger {
  async record(): Promise<void> {}
  async entries(): Promise<ErasureLedgerEntry[]> {
    return [];
  }
}

/**
 * The ledger as append-only files on a volume outside the database's backups:
 * `<dir>/<tenantId>/<writer>.jsonl`, one JSON line per request. Each process writes only its own
 * file (the writer is host name and pid), so replicas sharing the volume never interleave within a
 * file, and each line is flushed to disk before the request goes on. Reading takes the union of
 * every file; a line cut short by a crash mid-write is skipped (its request was never appended).
 */
export class FileErasureLedger extends ErasureLedger {
  constructor(
    private readonly dir: string,
    private readonly writer = `${hostname()}-${process.pid}`,
  ) {
    super();
  }

  async record(entry: ErasureLedgerEntry): Promise<void> {
    const tenantDir = join(this.dir, encodeURIComponent(entry.tenantId));
    await mkdir(tenantDir, { recursive: true });
    const file = await open(join(tenantDir, `${encodeURIComponent(this.writer)}.jsonl`), 'a+', 0o600);
    try {
      // A line cut short by a crash (a restarted container has the same host name and pid) must not swallow this one.
      const { size } = await file.stat();
      const last = Buffer.alloc(1);
      if (size > 0) await file.read(last, 0, 1, size - 1);
      await file.write(`${size > 0 && last[0] !== 0x0a ? '\n' : ''}${JSON.stringify(entry)}\n`);
      await file.datasync();
    } finally {
      await file.close();
    }
  }

  async entries(): Promise<ErasureLedgerEntry[]> {
    const found: ErasureLedgerEntry[] = [];
    for (const tenant of await listed(this.dir)) {
      for (const name of await listed(join(this.dir, tenant))) {
        if (!name.endsWith('.jsonl')) continue;
        const text = await readFile(join(this.dir, tenant, name), 'utf8');
        for (const line of text.split('\n')) {
          const entry = parsed(line);
          if (entry && entry.tenantId === decodeURIComponent(tenant)) found.push(entry);
        }
      }
    }
    return found.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }
}

async function listed(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function parsed(line: string): ErasureLedgerEntry | undefined {
  if (line.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const entry = value as Partial<ErasureLedgerEntry>;
  const strings = (list: unknown) => Array.isArray(list) && list.every((item) => typeof item === 'string');
  const valid =
    typeof entry === 'object' &&
    entry !== null &&
    typeof entry.tenantId === 'string' &&
    typeof entry.erasureId === 'string' &&
    (entry.requestedBy === 'user' || entry.requestedBy === 'tenant') &&
    typeof entry.requestedAt === 'string' &&
    strings(entry.userIds) &&
    strings(entry.anonymousIds) &&
    strings(entry.emailIndexes);
  return valid ? (entry as ErasureLedgerEntry) : undefined;
}
