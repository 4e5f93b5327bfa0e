import { basename } from 'node:path';
import { DataKeyUnwrapError, InvalidMasterKeyError, PersonalDataIntegrityError } from '#personal-data';
import { UndecodableEventError } from './event-envelope';
import { NewerEventVersionError } from './event-types';

/**
 * What a failure while applying events says about them:
 * - `transient`: the database, the event store or the key store is briefly unable (connection lost,
 *   serialization failure, deadlock, out of resources, an administrator's shutdown), or the event
 *   comes from a newer version of the service (a rolling update): retried without limit;
 * - `systemic`: not the event's fault but no retry alone will mend it (a table or column a
 *   migration has yet to create, an internal error, a wrong master key): retried without limit too,
 *   and never a reason to park an event;
 * - `permanent`: something about this event (a value out of a column's range, a constraint, a rule
 *   of the projection that throws): retried a few times, then the event is parked.
 */
export type FailureClass = 'transient' | 'systemic' | 'permanent';

export interface ClassifiedFailure {
  readonly class: FailureClass;
  /** Low-cardinality: the SQLSTATE, an error class, `undecodable`. Labels the parked-events metric. */
  readonly kind: string;
  /**
   * For people: the SQLSTATE's condition and the names of the constraint, table, column or type,
   * where the error was thrown. Never an error's message: PostgreSQL's quote the offending value
   * (`timestamp out of range: "…"`, `Failing row contains (…)`), and a projection's may too.
   */
  readonly reason: string;
}

/** Whole SQLSTATE classes: 08 connection, 40 rollback (serialization, deadlock), 53 resources, 57 operator intervention, 58 system. */
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08', '40', '53', '57', '58']);
/** Lock not available, object in use, read-only transaction (a standby after a failover), idle-in-transaction timeout. */
const TRANSIENT_SQLSTATES = new Set(['55P03', '55006', '25006', '25P03']);
/**
 * Not the event's fault: 0A feature not supported, XX internal error, 42 a statement that does not
 * fit the schema (42P01 no such table, 42703 no such column: a migration not yet run), 3D/3F no
 * such database or schema, 28 authorization, 55 object not in the needed state, F0 configuration.
 */
const SYSTEMIC_SQLSTATE_CLASSES = new Set(['0A', 'XX', '42', '3D', '3F', '28', '55', 'F0']);

/** Conditions an operator meets most, by name (the rest are shown by code alone). */
const CONDITIONS: Readonly<Record<string, string>> = {
  '22001': 'string_data_right_truncation',
  '22003': 'numeric_value_out_of_range',
  '22004': 'null_value_not_allowed',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22009': 'invalid_time_zone_displacement_value',
  '22012': 'division_by_zero',
  '22021': 'character_not_in_repertoire',
  '22023': 'invalid_parameter_value',
  '22P02': 'invalid_text_representation',
  '22P05': 'untranslatable_character',
  '23502': 'not_null_violation',
  '23503': 'foreign_key_violation',
  '23505': 'unique_violation',
  '23514': 'check_violation',
  '23P01': 'exclusion_violation',
  '25P02': 'in_failed_sql_transaction',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '42703': 'undefined_column',
  '42P01': 'undefined_table',
  '53300': 'too_many_connections',
  '54000': 'program_limit_exceeded',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  P0001: 'raise_exception',
};

/** Node's socket errors and the client libraries' words for a connection that went away or never came. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const NETWORK_MESSAGE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Query read timeout|terminating connection/i;
/** TypeORM with no connection (shutting down, pool gone), EventStoreDB's client when the cluster is away or elects a leader. */
const TRANSIENT_ERROR_NAMES = new Set([
  'QueryRunnerAlreadyReleasedError',
  'CannotExecuteNotConnectedError',
  'ConnectionIsNotSetError',
  'UnavailableError',
  'DeadlineExceededError',
  'NotLeaderError',
  'CancelledError',
  'TimeoutError',
  'AbortError',
  'WrongExpectedRevisionError',
  'WrongExpectedVersionError',
]);

interface PostgresFields {
  code: string;
  constraint?: string;
  table?: string;
  column?: string;
  dataType?: string;
  routine?: string;
}

/** Sorts a failure into transient, systemic or permanent (see FailureClass), with a reason safe to store and log. */
export function classifyFailure(error: unknown): ClassifiedFailure {
  const undecodable = undecodableReason(error);
  if (undecodable) return { class: 'permanent', kind: 'undecodable', reason: `${undecodable.error}: ${undecodable.reason}` };
  if (error instanceof SystemicFailure) return { class: 'systemic', kind: error.kind, reason: error.reason };
  if (error instanceof NewerEventVersionError) {
    return {
      class: 'transient',
      kind: error.name,
      reason: `${error.type} v${error.version} is newer than this reader (v${error.readerVersion})`,
    };
  }
  if (error instanceof DataKeyUnwrapError || error instanceof InvalidMasterKeyError) {
    return { class: 'systemic', kind: error.name, reason: `${error.name}: the master key does not open the stored data keys` };
  }
  const postgres = postgresFieldsOf(error);
  if (postgres) return { class: sqlstateClass(postgres.code), kind: postgres.code, reason: postgresReason(postgres) };
  const network = networkCodeOf(error);
  if (network) return { class: 'transient', kind: network, reason: `${network}: the database, event store or key store is unreachable` };
  if (!(error instanceof Error)) return { class: 'permanent', kind: 'NonError', reason: `a ${typeof error} was thrown` };
  const kind = safeName(error);
  if (TRANSIENT_ERROR_NAMES.has(kind) || isTransientStoreError(error)) return { class: 'transient', kind, reason: kind };
  return { class: 'permanent', kind, reason: thrownAt(error, kind) };
}

/**
 * Why an event can never be decoded by this reader, or undefined when the error may pass on a retry
 * (database or key store unreachable, an event from a newer version of the service, a bug). Only
 * errors whose messages are built without the event's content qualify, so the reason is safe to
 * store and log.
 */
export function undecodableReason(error: unknown): { error: string; reason: string } | undefined {
  if (error instanceof UndecodableEventError || error instanceof PersonalDataIntegrityError)
    return { error: error.name, reason: error.reason };
  return undefined;
}

/** A failure the runner knows is not the event's: retried without limit, never parked. */
export class SystemicFailure extends Error {
  override readonly name = 'SystemicFailure';
  constructor(
    readonly kind: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

function sqlstateClass(code: string): FailureClass {
  const sqlClass = code.slice(0, 2);
  if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SQLSTATE_CLASSES.has(sqlClass)) return 'transient';
  if (SYSTEMIC_SQLSTATE_CLASSES.has(sqlClass)) return 'systemic';
  return 'permanent';
}

function postgresReason(fields: PostgresFields): string {
  const named = (label: string, value: string | undefined) => (value && SAFE_IDENTIFIER.test(value) ? [`${label} ${value}`] : []);
  return [
    `SQLSTATE ${fields.code}${CONDITIONS[fields.code] ? ` ${CONDITIONS[fields.code]}` : ''}`,
    ...named('constraint', fields.constraint),
    ...named('table', fields.table),
    ...named('column', fields.column),
    ...named('type', fields.dataType),
    ...named('in', fields.routine),
  ].join('; ');
}

/** Names as PostgreSQL and JavaScript spell them; anything else (a quoted value, say) is left out. */
const SAFE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$.]{0,62}$/;

/** The error PostgreSQL sent, directly (pg) or wrapped (TypeORM's QueryFailedError, a cause). */
function postgresFieldsOf(error: unknown): PostgresFields | undefined {
  for (const candidate of causesOf(error)) {
    const code = (candidate as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return candidate as PostgresFields;
  }
  return undefined;
}

function networkCodeOf(error: unknown): string | undefined {
  for (const candidate of causesOf(error)) {
    const code = (candidate as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    const message = (candidate as { message?: unknown }).message;
    const matched = typeof message === 'string' ? NETWORK_MESSAGE.exec(message) : null;
    if (matched) return matched[0];
  }
  return undefined;
}

/** EventStoreDB's client tells its failures by `type` rather than by class name once bundled. */
function isTransientStoreError(error: Error): boolean {
  const type = (error as { type?: unknown }).type;
  return typeof type === 'string' && ['unavailable', 'deadline-exceeded', 'not-leader', 'cancelled', 'timeout'].includes(type);
}

function causesOf(error: unknown): unknown[] {
  const found: unknown[] = [];
  for (let current = error; typeof current === 'object' && current !== null && found.length < 5;) {
    found.push(current);
    const next = (current as { driverError?: unknown; cause?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
    if (next === current) break;
    current = next;
  }
  return found;
}

function safeName(error: Error): string {
  const name = error.name !== 'Error' ? error.name : (error.constructor?.name ?? 'Error');
  return SAFE_IDENTIFIER.test(name) ? name : 'Error';
}

/** `TypeError at profile-writes.ts:123 (writeBatch)`: where, not what: the message may quote the event. */
function thrownAt(error: Error, kind: string): string {
  const frame = error.stack
    ?.split('\n')
    .find((line) => /^\s+at /.test(line) && !line.includes('node:internal') && !line.includes('node_modules'));
  const match = frame ? /at (?:(?:async )?([\w$.<>]+) )?\(?(.+?):(\d+):\d+\)?\s*$/.exec(frame) : null;
  if (!match) return kind;
  const fn = match[1] && SAFE_IDENTIFIER.test(match[1]) ? ` (${match[1]})` : '';
  return `${kind} at ${basename(match[2]!)}:${match[3]}${fn}`;
}
