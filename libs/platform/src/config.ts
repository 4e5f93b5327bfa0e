import { z } from 'zod';

/** One environment variable that failed validation; never carries the variable's value. */
export interface ConfigProblem {
  readonly variable: string;
  readonly reason: string;
}

/**
 * Thrown once with every bad variable, so an operator fixes a deployment in one round trip
 * instead of discovering the problems one restart at a time.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.reason}`).join('\n')}`);
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Validates the environment against `schema` and returns the typed configuration.
 * Only issue messages and variable names reach the error: values may be secrets.
 */
export function loadConfig<T>(schema: z.ZodType<T>, env: Environment = process.env): T {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => describeIssue(issue, env)));
}

function describeIssue(issue: z.core.$ZodIssue, env: Environment): ConfigProblem {
  const variable = issue.path.length > 0 ? issue.path.map(String).join('.') : '(environment)';
  const first = issue.path[0];
  // zod reports an absent variable as a type mismatch against `undefined`, which reads oddly to an operator.
  if (issue.code === 'invalid_type' && typeof first === 'string' && env[first] === undefined) {
    return { variable, reason: 'required but not set' };
  }
  return { variable, reason: issue.message };
}

/** An integer string parsed to a number within bounds; the message states the bounds, never the value. */
export function integer(options: { min: number; max: number; what?: string }) {
  const expectation = `expected ${options.what ?? 'an integer'} between ${options.min} and ${options.max}`;
  return z.string().transform((raw, ctx) => {
    const text = raw.trim();
    const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < options.min || value > options.max) {
      ctx.addIssue({ code: 'custom', message: expectation });
      return z.NEVER;
    }
    return value;
  });
}

/** A TCP port, 1–65535; `allowEphemeral` also admits 0 ("any free port"). */
export function port(options: { allowEphemeral?: boolean } = {}) {
  return integer({ min: options.allowEphemeral ? 0 : 1, max: 65535 });
}

/** A duration in whole milliseconds, so units are never guessed from a bare number. */
export function durationMs(options: { max?: number } = {}) {
  return integer({ min: 0, max: options.max ?? 24 * 60 * 60 * 1000, what: 'a duration in milliseconds' });
}

/** An absolute URL, optionally restricted to some schemes (e.g. `['postgres:', 'postgresql:']`). */
export function url(options: { protocols?: readonly string[] } = {}) {
  const allowed = options.protocols;
  const expectation = allowed ? `expected a URL with scheme ${allowed.join(' or ')}` : 'expected an absolute URL';
  return z.string().transform((raw, ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(raw.trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: expectation });
      return z.NEVER;
    }
    if (allowed && !allowed.includes(parsed.protocol)) {
      ctx.addIssue({ code: 'custom', message: expectation });
      return z.NEVER;
    }
    return parsed.toString();
  });
}

const truthy = new Set(['true', '1']);
const falsy = new Set(['false', '0']);

/** "true"/"false"/"1"/"0" only: anything looser ("yes", "on", "") is more likely a typo than an intent. */
export function boolean() {
  return z.string().transform((raw, ctx) => {
    const text = raw.trim().toLowerCase();
    if (truthy.has(text)) return true;
    if (falsy.has(text)) return false;
    ctx.addIssue({ code: 'custom', message: 'expected one of true, false, 1, 0' });
    return z.NEVER;
  });
}

/** A non-empty string, for names and secrets; the message never repeats the value. */
export function nonEmpty() {
  return z.string().transform((raw, ctx) => {
    if (raw.trim().length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must not be empty' });
      return z.NEVER;
    }
    return raw;
  });
}
