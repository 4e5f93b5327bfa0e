import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { ServiceInfrastructure } from '#cqrs';
import { EXPORT_FORMAT, EXPORT_SERVICES, ExportParts, exportPartToken, type ExportService } from '#contracts';
import { Clock, type TenantRef } from '../register.ports';
import { ExportRequests, EXPORT_SETTINGS, type ExportSettings } from './export-requests';

/** Register's own sections, in its own table (register_export_parts). */
export const REGISTER_EXPORT_PARTS = Symbol('RegisterExportParts');

/** How long a link register signs to fetch one section lasts: the fetch starts at once. */
const SECTION_LINK_MS = 60_000;

/**
 * The export document, streamed: the head, then each service's section in turn, register's from
 * its own table and the others' fetched from their internal route and piped through as they
 * arrive. No section, let alone the document, is ever whole in memory. A section that fails half
 * way cuts the response (the client sees an incomplete body, never a document that looks whole).
 */
@Injectable()
export class ExportDocuments {
  constructor(
    private readonly requests: ExportRequests,
    @Inject(REGISTER_EXPORT_PARTS) private readonly parts: ExportParts,
    @Inject(EXPORT_SETTINGS) private readonly settings: ExportSettings,
    private readonly clock: Clock,
    private readonly infrastructure: ServiceInfrastructure,
  ) {}

  /** The document of a ready export, or undefined when its key is gone (discarded meanwhile). */
  async stream(tenant: TenantRef, id: string): Promise<Readable | undefined> {
    const found = await this.requests.find(tenant.tenantId, id);
    if (!found?.identities) return undefined;
    const { userIds, anonymousIds, emails } = found.identities;
    const head = {
      format: EXPORT_FORMAT,
      tenant: { slug: tenant.slug, name: tenant.name },
      exportId: id,
      subject: { userIds, anonymousIds, emails },
      generatedAt: this.clock.now().toISOString(),
    };
    const document = async function* (this: ExportDocuments): AsyncGenerator<Buffer> {
      yield Buffer.from(`${JSON.stringify(head).slice(0, -1)},"sections":{`);
      for (const [i, service] of EXPORT_SERVICES.entries()) {
        yield Buffer.from(`${i === 0 ? '' : ','}${JSON.stringify(service)}:`);
        if (service === 'register') {
          for await (const text of this.parts.read(this.infrastructure.pool, tenant.tenantId, id)) yield Buffer.from(text);
        } else yield* this.fetched(tenant.tenantId, id, service);
      }
      yield Buffer.from('}}');
    }.call(this);
    return Readable.from(document, { objectMode: false });
  }

  /** Another service's section, from its internal route, under a link signed for it alone. */
  private async *fetched(tenantId: string, exportId: string, service: ExportService): AsyncGenerator<Buffer> {
    const base = this.settings.sectionUrls[service];
    if (!base) throw new Error(`no address for ${service}'s export sections: set its *_INTERNAL_URL`);
    const token = exportPartToken(
      this.infrastructure.internalLinkKey,
      { tenantId, exportId, service },
      this.clock.now().getTime() + SECTION_LINK_MS,
    );
    const response = await fetch(`${base.replace(/\/$/, '')}/internal/exports/${tenantId}/${exportId}/${service}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!response.ok || !response.body) throw new Error(`${service} answered ${response.status} for its export section`);
    for await (const chunk of response.body) yield Buffer.from(chunk);
  }
}
