import { createHmac, timingSafeEqual } from 'node:crypto';
import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';
import { ERASURE_SERVICES, erasureIdentitiesOf, type ErasureIdentities, type ErasureService } from './erasure.events';

/**
 * Export requests, one stream each under the tenant's privacy prefix, as erasures: the request,
 * each service's "my section is ready", and the end of the export (expired or erased). Register
 * answers the status from the stream and streams the document; each service keeps its own section.
 */
export const EXPORT_STREAM_PREFIX = 'privacy.export-';

export function exportStreamFor(tenantId: string, exportId: string): string {
  return `${EXPORT_STREAM_PREFIX}${tenantId}.${exportId}`;
}

/** The document's format, its first field: a reader checks it before anything else. */
export const EXPORT_FORMAT = 'tessera-export/1';

/** The services with a section, in the document's order. */
export const EXPORT_SERVICES = ERASURE_SERVICES;
export type ExportService = ErasureService;

/**
 * The subject whose key seals the request's identities and every service's section: destroying it
 * (the link expired, the person was erased) shreds the whole export wherever it is kept.
 */
export function exportSubject(exportId: string): string {
  return `export:${exportId}`;
}

/** Whom to export: the identities as for an erasure, and the e-mail addresses as given (for the document's subject). */
export interface ExportIdentities extends ErasureIdentities {
  emails: string[];
}

export const ExportRequested = defineEvent<{ exportId: string; requestedBy: 'user' | 'tenant'; requestedAt: string } & ExportIdentities>()(
  'ExportRequested',
  {
    personalData: {
      subject: (data: JsonObject) => exportSubject(String(data.exportId)),
      fields: ['userIds', 'anonymousIds', 'emailIndexes', 'emails'],
    },
  },
);

/** One service wrote its section, sealed under the export's key, into its own store. Nothing personal. */
export const ExportSectionReady = defineEvent<{ exportId: string; service: ExportService; readyAt: string }>()('ExportSectionReady');

/** The export is over: its key is destroyed, every service deletes its section. */
export const ExportDiscarded = defineEvent<{ exportId: string; reason: 'expired' | 'erased'; at: string }>()('ExportDiscarded');

export type ExportEvent = EventOf<typeof ExportRequested> | EventOf<typeof ExportSectionReady> | EventOf<typeof ExportDiscarded>;
export const exportEvents = [ExportRequested, ExportSectionReady, ExportDiscarded];

/** The identities of a request as a consumer reads it: undefined when its key is destroyed or the data is malformed. */
export function exportIdentitiesOf(data: JsonObject): ExportIdentities | undefined {
  const identities = erasureIdentitiesOf(data);
  const emails =
    Array.isArray(data.emails) && data.emails.every((item) => typeof item === 'string') ? (data.emails as string[]) : undefined;
  return identities && emails ? { ...identities, emails } : undefined;
}

/**
 * What register presents to fetch one service's section: `v1.{expires ms}.{HMAC}` over the tenant,
 * the export, the service and the expiry, under the key every service derives from the master key
 * (see deriveKeys). Short-lived, bound to one section, and no new secret to distribute: the
 * person's access token or the tenant's api key never travels further than register.
 */
export function exportPartToken(key: Buffer, part: ExportPart, expiresAtMs: number): string {
  return `v1.${expiresAtMs}.${exportPartMac(key, part, expiresAtMs)}`;
}

export interface ExportPart {
  readonly tenantId: string;
  readonly exportId: string;
  readonly service: ExportService;
}

/** Whether the token was made for this part and is still valid at `nowMs` (compared in constant time). */
export function exportPartTokenValid(key: Buffer, part: ExportPart, token: string, nowMs: number): boolean {
  const match = /^v1\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return false;
  const expiresAtMs = Number(match[1]);
  const expected = Buffer.from(exportPartMac(key, part, expiresAtMs));
  const given = Buffer.from(match[2]!);
  return expected.length === given.length && timingSafeEqual(expected, given) && nowMs <= expiresAtMs;
}

function exportPartMac(key: Buffer, part: ExportPart, expiresAtMs: number): string {
  return createHmac('sha256', key)
    .update(JSON.stringify(['tessera/export-part/v1', part.tenantId, part.exportId, part.service, expiresAtMs]))
    .digest('base64url');
}
