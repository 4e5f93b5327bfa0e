import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { prettyFactory } from 'pino-pretty';

/** Injection token of the service's root pino logger, for code that wants structured fields. */
export const SERVICE_LOGGER = Symbol('tessera.platform.logger');

export type LogLevel = LevelWithSilent;
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[];

/** JSON lines for machines (production, log shippers); one readable line per record for a person at a terminal. */
export const logFormats = ['json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

export interface LoggerOptions {
  readonly serviceName: string;
  readonly level: LogLevel;
  readonly format?: LogFormat;
  /** Where lines go; stdout when omitted. Tests pass a capture stream. */
  readonly destination?: DestinationStream;
}

/** Keys whose values are credentials or personal data wherever they appear in a logged object. */
const sensitiveKeys = [
  'password',
  'newPassword',
  'currentPassword',
  'passwordHash',
  'secret',
  'clientSecret',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'access_token',
  'refresh_token',
  'id_token',
  'otp',
  'verificationCode',
  'authorizationCode',
  'apiKey',
  'api_key',
  'privateKey',
  'authorization',
  'cookie',
  'email',
  'phone',
];
const sensitiveHeaders = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];

// The redactor matches one level per wildcard, so each key is listed at every depth we expect
// log objects to reach; deeper values are not covered, which is why bodies are never logged at all.
const maxDepth = 3;

export const redactPaths: readonly string[] = [
  ...sensitiveKeys.flatMap((key) => Array.from({ length: maxDepth + 1 }, (_, depth) => [...Array<string>(depth).fill('*'), key].join('.'))),
  ...sensitiveHeaders.flatMap((header) => [`headers["${header}"]`, `*.headers["${header}"]`, `*.*.headers["${header}"]`]),
];

/** The service's root JSON logger; everything else logs through children of it. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.serviceName },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...redactPaths], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
    },
    options.format === 'pretty' ? prettyLines(options.destination) : (options.destination ?? pino.destination({ dest: 1, sync: true })),
  );
}

/**
 * `HH:MM:ss register info  request completed  POST /t/:tenant/users 201 71ms`-like lines. Redaction
 * has happened before a record reaches this stream, so pretty lines hide what JSON lines hide.
 */
function prettyLines(destination: DestinationStream | undefined): DestinationStream {
  const target = destination ?? pino.destination({ dest: 1, sync: true });
  const prettify = prettyFactory({
    singleLine: true,
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    messageFormat: '{service} {msg}',
    ignore: 'pid,hostname,service',
  });
  return { write: (line: string) => target.write(prettify(line)) };
}

// Driver errors like to quote connection strings; redact paths cannot see inside a message.
const urlCredentials = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/gi;

function scrubCredentials(text: string): string {
  return text.replace(urlCredentials, '$1:[redacted]@');
}

function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  for (const key of ['message', 'stack'] as const) {
    if (typeof serialized[key] === 'string') serialized[key] = scrubCredentials(serialized[key]);
  }
  return serialized;
}

/**
 * Lets Nest and libraries using `new Logger(context)` write through the same pino logger.
 * Nest passes the context as the last string argument and, for errors, a stack before it.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write(isBootstrapChatter(params) ? 'debug' : 'info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', message: unknown, params: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const rest = [...params];
    const last = rest[rest.length - 1];
    const context = typeof last === 'string' && !looksLikeStack(last) ? (rest.pop() as string) : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
      return;
    }
    if (level === 'error' && typeof rest[0] === 'string') fields.stack = rest.shift();
    if (rest.length > 0) fields.details = rest;
    if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...(message as object) });
    } else {
      this.logger[level](fields, String(message));
    }
  }
}

/**
 * Nest announces every module it wires and every route it maps at start-up: some forty lines per
 * service that bury what a newcomer needs to see. They stay available at LOG_LEVEL=debug.
 */
const BOOTSTRAP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

function isBootstrapChatter(params: readonly unknown[]): boolean {
  const context = params[params.length - 1];
  return typeof context === 'string' && BOOTSTRAP_CONTEXTS.has(context);
}

function looksLikeStack(text: string): boolean {
  return text.includes('\n    at ');
}
