import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import { normaliseEmail } from '#personal-data';
import { importedPasswordHash, type LegacyPasswordHash } from '#password-hashes';
import { bounded, jsonPointer, ProblemError, type FieldError } from '#platform';
import { emptyProfile } from '../account/account.state';
import { consentList, emailAddress, profileChanges } from '../register.schemas';

/** At most this many people per request: a request is answered line by line, within a client's timeout. */
export const IMPORT_MAX_USERS = 1000;
/** A request body, NDJSON or JSON: a thousand people with Keycloak credentials fit with room to spare. */
export const IMPORT_MAX_BYTES = 4 * 1024 * 1024;
/** One NDJSON line. */
const MAX_LINE_BYTES = 16 * 1024;

/** One person as an import sends them: an NDJSON line, or an element of `users`. */
export const importedUser = z
  .object({
    /** The id the other system gave the person: the import's idempotency key within the tenant. */
    externalId: bounded.identifier(255).min(1),
    email: emailAddress,
    emailVerified: z.boolean().optional(),
    /** The other system's hash, or null (or absent): the person then sets a password by reset. */
    password: importedPasswordHash.nullable().optional(),
    profile: profileChanges.optional(),
    consents: consentList.optional(),
  })
  .strict();

export const importBody = z.object({ users: z.array(z.unknown()).max(IMPORT_MAX_USERS) }).strict();

export interface ImportedPerson {
  readonly externalId: string;
  /** Normalised, as sign-up keeps it. */
  readonly email: string;
  readonly emailVerified: boolean;
  readonly password: LegacyPasswordHash | null;
  readonly profile: typeof emptyProfile;
  readonly consents: readonly { purpose: string; policyVersion: string }[];
}

/** A line's problem, as it appears in the answer: the fields of a problem+json document. */
export interface LineProblem {
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly errors?: readonly FieldError[];
}

export type ParsedLine =
  | { readonly line: number; readonly ok: true; readonly person: ImportedPerson }
  | { readonly line: number; readonly ok: false; readonly externalId?: string; readonly problem: LineProblem };

export type ImportMediaType = 'ndjson' | 'json';

/**
 * Splits a request into its people, each parsed on its own: a line that fails is reported with
 * its number (1-based, blank NDJSON lines counted) and never stops the others. What makes the
 * whole request unusable (not JSON at all, too many people) is a 400 problem, and nothing is imported.
 */
export function parseImport(mediaType: ImportMediaType, text: string): ParsedLine[] {
  const raw = mediaType === 'ndjson' ? ndjsonLines(text) : jsonUsers(text);
  const parsed = raw.map(({ line, value }) => (value === MALFORMED ? malformed(line) : parseLine(line, value)));
  return refuseRepeats(parsed);
}

const MALFORMED = Symbol('malformed');

function ndjsonLines(text: string): { line: number; value: unknown }[] {
  const lines = text.split('\n');
  const filled = lines.map((content, index) => ({ line: index + 1, content: content.replace(/\r$/, '') })).filter((l) => l.content.trim());
  if (filled.length === 0) throw wholeRequest('the body holds no line');
  if (filled.length > IMPORT_MAX_USERS) throw wholeRequest(`at most ${IMPORT_MAX_USERS} people per request`);
  return filled.map(({ line, content }) => ({
    line,
    value: Buffer.byteLength(content) > MAX_LINE_BYTES ? MALFORMED : jsonOrMalformed(content),
  }));
}

function jsonUsers(text: string): { line: number; value: unknown }[] {
  const body = jsonOrMalformed(text);
  if (body === MALFORMED) throw wholeRequest('the body is not valid JSON');
  const parsed = importBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw wholeRequest(`${jsonPointer(issue.path) || 'the body'}: ${issue.message}`);
  }
  if (parsed.data.users.length === 0) throw wholeRequest('users is empty');
  return parsed.data.users.map((value, index) => ({ line: index + 1, value }));
}

function jsonOrMalformed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return MALFORMED;
  }
}

function parseLine(line: number, value: unknown): ParsedLine {
  const externalId = externalIdOf(value);
  const result = importedUser.safeParse(value);
  if (!result.success) {
    const errors = result.error.issues.map((issue) => ({ pointer: jsonPointer(issue.path), message: issue.message }));
    return {
      line,
      ok: false,
      externalId,
      problem: {
        type: 'validation-failed',
        title: 'Import line validation failed',
        detail: errors.length === 1 ? '1 field is invalid' : `${errors.length} fields are invalid`,
        errors,
      },
    };
  }
  const user = result.data;
  return {
    line,
    ok: true,
    person: {
      externalId: user.externalId,
      email: normaliseEmail(user.email),
      emailVerified: user.emailVerified ?? false,
      password: user.password ?? null,
      profile: { ...emptyProfile, ...user.profile },
      consents: [...(user.consents ?? [])].sort((a, b) => a.purpose.localeCompare(b.purpose)),
    },
  };
}

function malformed(line: number): ParsedLine {
  return {
    line,
    ok: false,
    problem: { type: 'malformed-json', title: 'Malformed JSON', detail: `line ${line} is not a JSON object of at most 16 KiB` },
  };
}

/** The external id of a line that failed, when it had a usable one: the caller's key to the failure. */
function externalIdOf(value: unknown): string | undefined {
  const id = (value as { externalId?: unknown } | null)?.externalId;
  return typeof id === 'string' && /^[\x21-\x7e]{1,255}$/.test(id) ? id : undefined;
}

/**
 * One person, one address, once per request: a second line with the same external id or e-mail
 * is refused, so which line wins never depends on which finished first.
 */
function refuseRepeats(lines: ParsedLine[]): ParsedLine[] {
  const seenIds = new Map<string, number>();
  const seenEmails = new Map<string, number>();
  return lines.map((parsed) => {
    if (!parsed.ok) return parsed;
    const earlier = seenIds.get(parsed.person.externalId) ?? seenEmails.get(parsed.person.email);
    if (earlier !== undefined) {
      return {
        line: parsed.line,
        ok: false,
        externalId: parsed.person.externalId,
        problem: {
          type: 'repeated-in-request',
          title: 'Person repeated in the request',
          detail: `line ${earlier} has the same externalId or e-mail address`,
        },
      };
    }
    seenIds.set(parsed.person.externalId, parsed.line);
    seenEmails.set(parsed.person.email, parsed.line);
    return parsed;
  });
}

function wholeRequest(detail: string): ProblemError {
  return new ProblemError({ status: 400, type: 'malformed-import', title: 'Import request not readable', detail });
}

/** The account of an imported person: one id per tenant and external id, so a re-import finds it. */
export function importedUserId(tenantId: string, externalId: string): string {
  return uuidv5(externalId, tenantId);
}

/** What an import said about a person, as a fingerprint: keys sorted, so equal content gives equal digests. */
export function importDigest(person: ImportedPerson): string {
  return createHash('sha256').update(canonicalJson(person)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
