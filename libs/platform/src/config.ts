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
 * In production (NODE_ENV=production) a secret Tessera published as an example is refused too.
 */
export function loadConfig<T>(schema: z.ZodType<T>, env: Environment = process.env): T {
  const result = schema.safeParse(env);
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => describeIssue(issue, env))),
    ...exampleSecretProblems(env, schema instanceof z.ZodObject ? Object.keys(schema.shape) : undefined),
  ];
  if (result.success && problems.length === 0) return result.data;
  throw new ConfigError(problems);
}

/**
 * Every secret Tessera has published as an example, in one place: the defaults docker-compose.yml
 * once carried (anyone could read them in the repository, and a compose file copied to a server
 * would run with them). Add any value a README, manifest or compose file ever shows here.
 * Master keys are compared as the bytes they decode to, so another spelling of one is caught too.
 */
export const EXAMPLE_SECRETS = {
  ADMIN_TOKEN: ['local-admin-token-change-me-0123456789'],
  TESSERA_MASTER_KEY: ['MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY='],
} as const satisfies Record<string, readonly string[]>;

const HOW_TO_GENERATE: Record<keyof typeof EXAMPLE_SECRETS, string> = {
  ADMIN_TOKEN: 'openssl rand -base64 36',
  TESSERA_MASTER_KEY: 'openssl rand -base64 32',
};

/** The example secrets set in a production environment, among `variables` (all known ones when undefined). */
function exampleSecretProblems(env: Environment, variables: readonly string[] | undefined): ConfigProblem[] {
  if (env.NODE_ENV?.trim() !== 'production') return [];
  const problems: ConfigProblem[] = [];
  for (const [variable, examples] of Object.entries(EXAMPLE_SECRETS) as [keyof typeof EXAMPLE_SECRETS, readonly string[]][]) {
    const value = env[variable];
    if (value === undefined || (variables && !variables.includes(variable))) continue;
    const same = variable === 'TESSERA_MASTER_KEY' ? sameKeyBytes : (a: string, b: string) => a.trim() === b;
    if (examples.some((example) => same(value, example))) {
      problems.push({
        variable,
        reason: `is an example value published with Tessera and refused in production: generate your own (${HOW_TO_GENERATE[variable]})`,
      });
    }
  }
  return problems;
}

/** Whether two master keys, each as hex or base64(url), decode to the same bytes. */
function sameKeyBytes(candidate: string, example: string): boolean {
  const decode = (text: string) => {
    const trimmed = text.trim();
    return /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  };
  const [a, b] = [decode(candidate), decode(example)];
  return a.length > 0 && a.equals(b);
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
