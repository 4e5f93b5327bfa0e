import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  ProblemError,
  problemContentType,
  problemDocument,
  statusSlug,
  statusTitle,
  type ProblemDocument,
  type ProblemInit,
} from './problem-details';
import { requestPath } from './request-telemetry';

type Problem = Omit<ProblemInit, 'cause'>;

/** Fastify rejects these before any handler runs; each gets a problem type of its own. */
const fastifyProblems: Readonly<Record<string, Problem>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    type: 'malformed-json',
    title: 'Malformed JSON',
    detail: 'The request body is not valid JSON',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    type: 'malformed-json',
    title: 'Malformed JSON',
    detail: 'The request body is empty but declared as JSON',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    type: 'body-too-large',
    title: 'Request body too large',
    detail: 'The request body exceeds the size this service accepts',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    type: 'unsupported-media-type',
    title: 'Unsupported media type',
    detail: 'The request body has a content type this endpoint does not accept',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    type: 'bad-content-length',
    title: 'Bad Content-Length',
    detail: 'The Content-Length header does not match the body',
  },
};

const internalError: Problem = {
  status: 500,
  type: 'internal-error',
  title: 'Internal Server Error',
  detail: 'The service failed to handle the request',
};

/**
 * Renders every error leaving an HTTP handler as RFC 9457 `application/problem+json`, so clients
 * parse one error shape. Server faults are logged here with their stack and answered generically.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const problem = this.toProblem(exception, request);
    if (problem.status >= 500) {
      this.logger.error(
        { err: exception, requestId: request.id, method: request.method, route: request.routeOptions?.url ?? null },
        'unhandled error',
      );
    }
    if (reply.sent || reply.raw.headersSent) {
      // Part of a response is already on the wire; all we can do is not corrupt the connection further.
      reply.raw.destroy();
      return;
    }
    const document: ProblemDocument = problemDocument(problem, requestPath(request.url));
    reply
      .status(problem.status)
      .headers({ ...problem.headers, 'content-type': problemContentType })
      .send(JSON.stringify({ ...document, requestId: request.id }));
  }

  private toProblem(exception: unknown, request: FastifyRequest): Problem {
    if (exception instanceof ProblemError) {
      return {
        status: exception.status,
        type: exception.type,
        title: exception.title,
        detail: exception.detail,
        extensions: exception.extensions,
        headers: exception.headers,
      };
    }
    if (exception instanceof HttpException) return this.fromHttpException(exception, request);
    return internalError;
  }

  private fromHttpException(exception: HttpException, request: FastifyRequest): Problem {
    const code = fastifyErrorCode(exception.cause);
    if (code !== undefined && code in fastifyProblems) return fastifyProblems[code]!;
    const status = exception.getStatus();
    if (status >= 500) return { ...internalError, status, type: statusSlug(status), title: statusTitle(status) };
    if (status === 404 && request.routeOptions?.url === undefined) {
      // Nest's own message echoes the URL, query string included, which may carry a token.
      return {
        status,
        type: 'route-not-found',
        title: 'Route not found',
        detail: `No route serves ${request.method} ${requestPath(request.url)}`,
      };
    }
    return { status, type: statusSlug(status), title: statusTitle(status), detail: httpExceptionDetail(exception, status) };
  }
}

function fastifyErrorCode(cause: unknown): string | undefined {
  if (!(cause instanceof Error) || cause.name !== 'FastifyError') return undefined;
  const code: unknown = (cause as Error & { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The message a handler chose, unless it is only Nest's restatement of the status text. */
function httpExceptionDetail(exception: HttpException, status: number): string | undefined {
  const response = exception.getResponse();
  const message = typeof response === 'string' ? response : (response as { message?: unknown }).message;
  const text = Array.isArray(message)
    ? message.filter((m) => typeof m === 'string').join('; ')
    : typeof message === 'string'
      ? message
      : undefined;
  return text === undefined || text === statusTitle(status) ? undefined : text;
}
