import type { ClientBase, Pool } from 'pg';

/**
 * The expand/contract rule (README, Schema changes) as something a database can be checked
 * against: what the schema was before a migration, what it is after, and every change between the
 * two that code written for the schema before would trip on while it still runs beside the new
 * release.
 */

export interface Column {
  readonly type: string;
  readonly nullable: boolean;
  readonly hasDefault: boolean;
}

export interface Schema {
  /** table → column → shape */
  readonly tables: ReadonlyMap<string, ReadonlyMap<string, Column>>;
  /** table → names of its constraints (CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY, EXCLUDE) and unique indexes, each with its definition */
  readonly refusals: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/** The public schema's tables, columns and the constraints that can refuse a write, as PostgreSQL reports them. */
export async function schemaOf(db: Pool | ClientBase): Promise<Schema> {
  const tables = new Map<string, Map<string, Column>>();
  const refusals = new Map<string, Map<string, string>>();
  const { rows: columns } = await db.query<{ table: string; column: string; type: string; nullable: boolean; default: boolean }>(`
    SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
           NOT a.attnotnull AS nullable, (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS default
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`);
  for (const row of columns) {
    if (!tables.has(row.table)) tables.set(row.table, new Map());
    tables.get(row.table)!.set(row.column, { type: row.type, nullable: row.nullable, hasDefault: row.default });
  }
  const { rows: constraints } = await db.query<{ table: string; name: string; definition: string }>(`
    SELECT c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS definition
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
     WHERE c.relnamespace = 'public'::regnamespace AND k.contype IN ('c', 'u', 'p', 'f', 'x')
    UNION ALL
    SELECT c.relname, i.relname, pg_get_indexdef(i.oid)
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
     WHERE c.relnamespace = 'public'::regnamespace AND x.indisunique
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)`);
  for (const row of constraints) {
    if (!refusals.has(row.table)) refusals.set(row.table, new Map());
    refusals.get(row.table)!.set(row.name, row.definition);
  }
  return { tables, refusals };
}

/**
 * What a change from `before` to `after` takes away from code that knows only `before`: a table
 * or column gone or retyped, a column that now refuses null, a new column that old INSERTs cannot
 * fill (NOT NULL without default), a default gone from a NOT NULL column, a new or changed
 * constraint or unique index on a table old code writes. New tables, nullable or defaulted columns
 * and plain indexes are expansions and pass.
 */
export function narrowings(before: Schema, after: Schema): string[] {
  const found: string[] = [];
  for (const [table, columns] of before.tables) {
    const now = after.tables.get(table);
    if (!now) {
      found.push(`table ${table} dropped or renamed`);
      continue;
    }
    for (const [name, was] of columns) {
      const is = now.get(name);
      if (!is) found.push(`column ${table}.${name} dropped or renamed`);
      else {
        if (is.type !== was.type) found.push(`column ${table}.${name} retyped from ${was.type} to ${is.type}`);
        if (was.nullable && !is.nullable) found.push(`column ${table}.${name} made NOT NULL`);
        if (!is.nullable && was.hasDefault && !is.hasDefault) found.push(`column ${table}.${name} lost its default`);
      }
    }
    for (const [name, is] of now)
      if (!columns.has(name) && !is.nullable && !is.hasDefault) found.push(`column ${table}.${name} added NOT NULL without a default`);
    const refusedBefore = before.refusals.get(table) ?? new Map<string, string>();
    for (const [name, definition] of after.refusals.get(table) ?? [])
      if (refusedBefore.get(name) !== definition) found.push(`${table} refuses more: ${name} ${definition}`);
  }
  return found;
}
