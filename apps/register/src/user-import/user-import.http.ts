import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ProblemError, problemContentType, problemDocument, problemTypeUri, requestPath, SERVICE_LOGGER } from '#platform';
import { correlationIdOf, TenantAccess } from '../access/tenant-access';
import { ReadModels } from '../read-models';
import type { TenantRecord } from '../tenants/tenant-directory';
import { IMPORT_MAX_BYTES, parseImport, type ImportedPerson, type ImportMediaType, type ParsedLine } from './import-lines';
import { ImportUsersHandler, type LineOutcome } from './user-import.handler';

export const IMPORT_PATH = '/t/:tenant/users/import';

const MEDIA_TYPES: Readonly<Record<string, ImportMediaType>> = {
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/json': 'json',
};

/**
 * `POST /t/{tenant}/users/import`, a Fastify route of its own rather than a Nest controller: an
 * import is megabytes where every other body of register is held to BODY_LIMIT_BYTES, and it
 * takes NDJSON, so it needs its own body parsers and limit, which Nest cannot give one route.
 * The caller is checked before the body is read: a stranger's megabytes are never parsed.
 */
@Injectable()
export class UserImportRoutes implements OnModuleInit {
  private readonly callers = new WeakMap<FastifyRequest, TenantRecord>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly access: TenantAccess,
    private readonly imports: ImportUsersHandler,
    private readonly readModels: ReadModels,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    void fastify.register((scope, _options, done) => {
      this.routes(scope);
      done();
    });
  }

  private routes(scope: FastifyInstance): void {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(Object.keys(MEDIA_TYPES), { parseAs: 'string', bodyLimit: IMPORT_MAX_BYTES }, (_request, body, done) =>
      done(null, body),
    );
    scope.setErrorHandler((error, request, reply) => this.renderProblem(error, request, reply));
    scope.addHook('onRequest', async (request) => {
      const { tenant } = request.params as { tenant: string };
      this.callers.set(request, await this.access.requireAdminOrApiKey(request, tenant));
    });
    scope.post(IMPORT_PATH, async (request, reply) => {
      const tenant = this.callers.get(request)!;
      const lines = parseImport(mediaTypeOf(request), typeof request.body === 'string' ? request.body : '');
      const valid = lines.filter((line): line is Extract<ParsedLine, { ok: true }> => line.ok);
      const outcomes = await this.imports.execute(
        tenant,
        valid.map((line) => line.person),
        correlationIdOf(request),
      );
      // Read-your-writes, as for every other command: once answered, the profiles are there.
      await Promise.all(
        outcomes.map((outcome) => (outcome.outcome === 'imported' ? this.readModels.caughtUpWith(outcome.position) : undefined)),
      );
      const answer = report(lines, valid, outcomes);
      return reply.status(answer.failed.length > 0 ? 207 : 200).send(answer);
    });
  }

  private renderProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const code = (error as { code?: string }).code;
    let problem: ProblemError;
    if (error instanceof ProblemError) problem = error;
    else if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      problem = new ProblemError({
        status: 413,
        type: 'body-too-large',
        title: 'Request body too large',
        detail: `an import request holds at most ${IMPORT_MAX_BYTES} bytes; send the rest in another request`,
      });
    } else if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      problem = new ProblemError({
        status: 415,
        type: 'unsupported-media-type',
        title: 'Unsupported media type',
        detail: 'send application/x-ndjson (one person per line) or application/json ({"users": [...]})',
      });
    } else {
      this.logger.error({ err: error, requestId: request.id, route: IMPORT_PATH }, 'unhandled error');
      problem = new ProblemError({
        status: 500,
        type: 'internal-error',
        title: 'Internal Server Error',
        detail: 'The service failed to handle the request',
      });
    }
    void reply
      .status(problem.status)
      .headers({ ...problem.headers, 'content-type': problemContentType })
      .send(JSON.stringify({ ...problemDocument(problem, requestPath(request.url)), requestId: request.id }));
  }
}

function mediaTypeOf(request: FastifyRequest): ImportMediaType {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return MEDIA_TYPES[type] ?? 'json';
}

/** The answer: counts, every account the import now holds, and each failed line with its problem. */
function report(
  lines: readonly ParsedLine[],
  valid: readonly { line: number; person: ImportedPerson }[],
  outcomes: readonly LineOutcome[],
) {
  const accounts: { line: number; externalId: string; id: string; outcome: 'imported' | 'unchanged' }[] = [];
  const failed: { line: number; externalId?: string; problem: Record<string, unknown> }[] = [];
  for (const line of lines) if (!line.ok) failed.push({ line: line.line, externalId: line.externalId, problem: asProblem(line.problem) });
  valid.forEach(({ line, person }, index) => {
    const outcome = outcomes[index]!;
    if (outcome.outcome === 'failed') failed.push({ line, externalId: person.externalId, problem: asProblem(outcome.problem) });
    else accounts.push({ line, externalId: person.externalId, id: outcome.userId, outcome: outcome.outcome });
  });
  failed.sort((a, b) => a.line - b.line);
  return {
    imported: accounts.filter((account) => account.outcome === 'imported').length,
    unchanged: accounts.filter((account) => account.outcome === 'unchanged').length,
    failed,
    accounts,
  };
}

function asProblem(problem: { type: string; title: string; detail: string; errors?: unknown }): Record<string, unknown> {
  return { ...problem, type: problemTypeUri(problem.type) };
}
