import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Verdict = 'pass' | 'FAIL' | 'info';

/** One line of the printed table. Figures are preformatted: each scenario knows its units. */
export interface ReportRow {
  readonly measure: string;
  readonly figure: string;
  readonly ceiling: string;
  readonly ratio: string;
  readonly target: string;
  readonly verdict: Verdict;
  /**
   * Cores the rest of the machine (neighbours, not Tessera nor its PostgreSQL) used meanwhile, median
   * over the windows: above a few tenths, the row measured the neighbours as much as the code.
   */
  readonly neighbours: string;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly rows: readonly ReportRow[];
  /** Everything behind the rows (every repetition, settings), for the JSON file. */
  readonly details: Record<string, unknown>;
}

const COLUMNS: { header: string; key: keyof ReportRow; align: 'left' | 'right' }[] = [
  { header: 'measure', key: 'measure', align: 'left' },
  { header: 'figure', key: 'figure', align: 'right' },
  { header: 'ceiling (same run)', key: 'ceiling', align: 'right' },
  { header: 'ratio', key: 'ratio', align: 'right' },
  { header: 'target', key: 'target', align: 'left' },
  { header: 'verdict', key: 'verdict', align: 'left' },
  { header: 'neighbours', key: 'neighbours', align: 'right' },
];

export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = results.flatMap((result) => result.rows);
  const widths = COLUMNS.map((column) => Math.max(column.header.length, ...rows.map((row) => String(row[column.key]).length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (COLUMNS[i]!.align === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [
    line(COLUMNS.map((column) => column.header)),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.map((row) => line(COLUMNS.map((column) => String(row[column.key])))),
    '',
    'ratio: median of per-repetition figure/ceiling (lag rows: offered rate / runner catch-up rate).',
    'neighbours: cores used by processes other than the bench and its PostgreSQL; above ~0.3 the row is depressed by them.',
  ].join('\n');
}

/** Writes the dated file and overwrites `foundation-latest.json`; returns the dated path. */
export function writeResults(directory: string, document: object, startedAt: Date): string {
  mkdirSync(directory, { recursive: true });
  // Colons are not allowed in file names everywhere; the rest of the ISO form stays sortable.
  const stamp = startedAt
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const dated = join(directory, `foundation-${stamp}.json`);
  const text = `${JSON.stringify(document, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`;
  writeFileSync(dated, text);
  writeFileSync(join(directory, 'foundation-latest.json'), text);
  return dated;
}

export function perSecond(value: number, unit: string): string {
  return `${value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1)} ${unit}/s`;
}

export function ratioVerdict(ratio: number, minimum: number | undefined): Verdict {
  if (minimum === undefined) return 'info';
  return ratio >= minimum ? 'pass' : 'FAIL';
}

export function cores(value: number): string {
  return Number.isNaN(value) ? '?' : `${value.toFixed(2)} cores`;
}
