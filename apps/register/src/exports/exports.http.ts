import { Body, Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CommandRunner } from '#cqrs';
import { parseBody, ProblemError } from '#platform';
import { accountStreamFor } from '#contracts';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { accountDecider } from '../account/account.decider';
import { erasureRequestBody } from '../erasure/erasure-requests.http';
import { accountNotFound } from '../profile/profile.http';
import type { TenantRef } from '../register.ports';
import { ExportDocuments } from './export-document';
import { ExportRequests, type ExportStatus } from './export-requests';

const exportIdParam = z.object({ id: z.uuid({ message: 'must be an export id (UUID)' }) });

const exportNotFound = () =>
  new ProblemError({ status: 404, type: 'export-not-found', title: 'Export not found', detail: 'there is no such export here' });

const exportGone = (status: ExportStatus) =>
  new ProblemError({
    status: 410,
    type: 'export-gone',
    title: 'Export no longer available',
    detail:
      status.status === 'discarded'
        ? 'the person was erased: the export was destroyed with their data'
        : `the download link expired at ${status.expiresAt ?? 'its end'}; request a new export`,
  });

const exportNotReady = () =>
  new ProblemError({
    status: 409,
    type: 'export-not-ready',
    title: 'Export not ready',
    detail: 'some sections are still pending: poll the export',
  });

/** The status as the API answers it, with where to poll and, once ready, where to download until when. */
function resource(base: string, status: ExportStatus) {
  const self = `${base}/${status.id}`;
  return {
    ...status,
    links: { self, ...(status.status === 'ready' ? { download: { href: `${self}/download`, expiresAt: status.expiresAt } } : {}) },
  };
}

/**
 * One export of everything the four services hold about a person (see ExportRequests and
 * ExportDocuments): by the tenant (api key) for a userId, an e-mail or an anonymousId, or by the
 * person for themselves (login's access token) under /me. Asking answers 202 and the job; the job
 * says which sections are ready, then links to the download until the link expires (410 after).
 */
@Controller('t/:tenant')
export class ExportsController {
  constructor(
    private readonly requests: ExportRequests,
    private readonly documents: ExportDocuments,
    private readonly access: TenantAccess,
    private readonly runner: CommandRunner,
  ) {}

  @Post('exports')
  async request(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const tenant = await this.access.requireApiKey(request, slug);
    const target = parseBody(erasureRequestBody, body ?? {});
    const id = await this.requests.request(tenant, target, 'tenant', correlationIdOf(request));
    return this.accepted(reply, `/t/${encodeURIComponent(tenant.slug)}/exports`, tenant, id);
  }

  @Get('exports/:id')
  async status(@Param('tenant') slug: string, @Param('id') idParam: string, @Req() request: IncomingRequest) {
    const tenant = await this.access.requireApiKey(request, slug);
    return resource(`/t/${encodeURIComponent(tenant.slug)}/exports`, await this.live(tenant, idParam, request));
  }

  @Get('exports/:id/download')
  async download(@Param('tenant') slug: string, @Param('id') idParam: string, @Req() request: IncomingRequest, @Res() reply: FastifyReply) {
    const tenant = await this.access.requireApiKey(request, slug);
    await this.send(reply, tenant, await this.live(tenant, idParam, request));
  }

  /** The person's own export, of their account (by its id and its e-mail address). */
  @Post('me/exports')
  async requestOwn(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    const { state } = await this.runner.load(accountStreamFor(tenant.tenantId, userId), accountDecider);
    if (state.status !== 'active') throw accountNotFound();
    const id = await this.requests.request(tenant, { userId, email: state.email ?? undefined }, 'user', correlationIdOf(request));
    return this.accepted(reply, `/t/${encodeURIComponent(tenant.slug)}/me/exports`, tenant, id);
  }

  @Get('me/exports/:id')
  async ownStatus(@Param('tenant') slug: string, @Param('id') idParam: string, @Req() request: IncomingRequest) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    return resource(`/t/${encodeURIComponent(tenant.slug)}/me/exports`, await this.live(tenant, idParam, request, userId));
  }

  @Get('me/exports/:id/download')
  async ownDownload(
    @Param('tenant') slug: string,
    @Param('id') idParam: string,
    @Req() request: IncomingRequest,
    @Res() reply: FastifyReply,
  ) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    await this.send(reply, tenant, await this.live(tenant, idParam, request, userId));
  }

  private async accepted(reply: FastifyReply, base: string, tenant: TenantRef, id: string) {
    void reply.status(202).header('location', `${base}/${id}`);
    const found = await this.requests.find(tenant.tenantId, id);
    return resource(base, found!.status);
  }

  /**
   * The export's status, if the caller may see it (the person: only an export they asked for
   * themselves). Past its link's expiry the export is discarded on the spot and answers 410.
   */
  private async live(tenant: TenantRef, idParam: string, request: IncomingRequest, person?: string): Promise<ExportStatus> {
    const { id } = parseBody(exportIdParam, { id: idParam });
    const found = await this.requests.find(tenant.tenantId, id);
    if (!found) throw exportNotFound();
    const { status, identities } = found;
    if (person !== undefined && (status.requestedBy !== 'user' || !identities?.userIds.includes(person))) throw exportNotFound();
    if (status.status === 'expired' || status.status === 'discarded') {
      if (identities) await this.requests.discard(tenant.tenantId, id, 'expired', correlationIdOf(request));
      throw exportGone(status);
    }
    return status;
  }

  private async send(reply: FastifyReply, tenant: TenantRef, status: ExportStatus): Promise<void> {
    if (status.status !== 'ready') throw exportNotReady();
    const document = await this.documents.stream(tenant, status.id);
    if (!document) throw exportGone(status);
    await reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="export-${status.id}.json"`)
      .header('cache-control', 'no-store')
      .send(document);
  }
}
