import { STATUS_CODES } from 'node:http';
import type { z } from 'zod';

export const problemTypeBase = 'https://tessera.dev/problems/';
export const problemContentType = 'application/problem+json; charset=utf-8';

/** The members RFC 9457 defines; extensions may not redefine them. */
const standardMembers = new Set(['type', 'title', 'status', 'detail', 'instance']);

/** One field of a request that failed validation, located by RFC 6901 JSON pointer into the body. */
export interface FieldError {
  readonly pointer: string;
  readonly message: string;
}

/** An RFC 9457 problem details document as written to the wire. */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly [extension: string]: unknown;
}

export interface ProblemInit {
  readonly status: number;
  /** Short kebab-case name of the problem kind, e.g. `email-taken`; becomes the `type` URI. */
  readonly type: string;
  /** Same for every occurrence of this type. */
  readonly title: string;
  /** This occurrence; shown to the client, so no internals and no other users' data. */
  readonly detail?: string;
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** Response headers the problem implies, e.g. `Retry-After` or `WWW-Authenticate`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

export function problemTypeUri(slug: string): string {
  return `${problemTypeBase}${slug}`;
}

/** The slug of a status with no more specific problem type: `Not Found` → `not-found`. */
export function statusSlug(status: number): string {
  return (STATUS_CODES[status] ?? 'error')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

export function statusTitle(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** Thrown by domain and HTTP code to answer with a specific problem; the global filter renders it. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail?: string;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(init: ProblemInit) {
    super(init.detail ?? init.title, init.cause === undefined ? undefined : { cause: init.cause });
    if (!Number.isInteger(init.status) || init.status < 400 || init.status > 599) {
      throw new RangeError(`a problem needs an error status (400-599), got ${init.status}`);
    }
    this.status = init.status;
    this.type = init.type;
    this.title = init.title;
    this.detail = init.detail;
    this.extensions = init.extensions ?? {};
    this.headers = init.headers ?? {};
  }

  /** The wire document; `instance` identifies the request that hit the problem. */
  toDocument(instance?: string): ProblemDocument {
    return problemDocument(
      { status: this.status, type: this.type, title: this.title, detail: this.detail, extensions: this.extensions },
      instance,
    );
  }
}

export function problemDocument(init: Omit<ProblemInit, 'headers' | 'cause'>, instance?: string): ProblemDocument {
  const extensions = Object.fromEntries(Object.entries(init.extensions ?? {}).filter(([key]) => !standardMembers.has(key)));
  return {
    type: problemTypeUri(init.type),
    title: init.title,
    status: init.status,
    ...(init.detail === undefined ? {} : { detail: init.detail }),
    ...(instance === undefined ? {} : { instance }),
    ...extensions,
  };
}

/** A request body that does not match its schema; `errors` names every bad field. */
export class RequestValidationError extends ProblemError {
  constructor(readonly errors: readonly FieldError[]) {
    super({
      status: 400,
      type: 'validation-failed',
      title: 'Request validation failed',
      detail: errors.length === 1 ? `${errors.length} field is invalid` : `${errors.length} fields are invalid`,
      extensions: { errors },
    });
  }
}

/**
 * Validates a request body, answering 400 with every bad field when it does not match.
 * Field messages come from zod and never repeat the submitted value (it may be a password).
 */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new RequestValidationError(result.error.issues.flatMap((issue) => fieldErrors(issue, body)));
}

function fieldErrors(issue: z.core.$ZodIssue, body: unknown): FieldError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ pointer: jsonPointer([...issue.path, key]), message: 'unknown field' }));
  }
  const absent = issue.code === 'invalid_type' && issue.path.length > 0 && valueAt(body, issue.path) === undefined;
  return [{ pointer: jsonPointer(issue.path), message: absent ? 'required' : issue.message }];
}

export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}
