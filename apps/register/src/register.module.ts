import { randomUUID } from 'node:crypto';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import {
  CommandRunner,
  EventCodec,
  ParkedEventsAdmin,
  ParkedEventsController,
  PeriodicTask,
  ProjectionRunner,
  projectionRunners,
  RuntimeLifecycle,
  ServiceInfrastructure,
} from '#cqrs';
import { blindIndex } from '#personal-data';
import { ExportParts, exportSections } from '#contracts';
import { MetricsRegistry, ReadinessChecks, SERVICE_LOGGER } from '#platform';
import { TenantKeyLookup } from '#tenant-keys';
import { AccessTokenVerifier } from './access/access-token';
import { ADMIN_TOKEN, TenantAccess } from './access/tenant-access';
import { EmailClaims } from './account/email-claims';
import { EmailChangeLinks, emailChangeLinksProjection } from './email-change/email-change-links';
import { ConfirmEmailChangeHandler } from './email-change/email-change.handler';
import { EmailChangeFlow } from './email-change/email-change.flow';
import { EmailChangeConfirmationController, EmailChangeController } from './email-change/email-change.http';
import { ConsentController } from './consent/consent.http';
import { EraseUserHandler } from './erasure/erasure.handler';
import { ErasureController } from './erasure/erasure.http';
import { ErasureLedger, NoErasureLedger } from './erasure/erasure-ledger';
import { ErasureRequests } from './erasure/erasure-requests';
import { ErasureRequestsController } from './erasure/erasure-requests.http';
import { erasureProjection } from './erasure/erasure.projection';
import { ExportDocuments, REGISTER_EXPORT_PARTS } from './exports/export-document';
import { EXPORT_SETTINGS, ExportRequests, type ExportSettings } from './exports/export-requests';
import { ExportsController } from './exports/exports.http';
import { registerSection } from './exports/register-section';
import { DevMailboxController } from './mail/dev-mailbox.http';
import { DevMailbox, Mailer } from './mail/mailer';
import { RequestMailedLinkHandler } from './account/mailed-links';
import { JourneyPagesController, JourneyScriptController } from './pages/journey-pages.http';
import { PAGE_FORMS, PageForms } from './pages/page-forms';
import { ConfirmPasswordResetHandler } from './password-reset/password-reset.handler';
import { PasswordResetFlow } from './password-reset/password-reset.flow';
import { PasswordResetController } from './password-reset/password-reset.http';
import { ChangeOwnAccountHandler } from './profile/account-commands.handler';
import { registerReadModelProjection } from './profile/profile.projection';
import { ProfileController } from './profile/profile.http';
import { BackgroundWork } from './background-work';
import { ReadModels } from './read-models';
import {
  Clock,
  EmailIndex,
  EVENT_STORE,
  PersonalDataEraser,
  REGISTER_SETTINGS,
  SystemClock,
  type RegisterSettings,
} from './register.ports';
import { RequestLimits, type RequestLimitSettings } from './request-limits/request-limits';
import { PasswordHasher } from './sign-up/password-hasher';
import { SignUpFlow } from './sign-up/sign-up.flow';
import { SignUpHandler } from './sign-up/sign-up.handler';
import { SignUpController } from './sign-up/sign-up.http';
import { CreateTenantHandler } from './tenants/create-tenant.handler';
import { TENANT_KEYS_TABLE, TenantDirectory } from './tenants/tenant-directory';
import { TenantBrandingController } from './tenants/tenant-branding.http';
import { TenantStream } from './tenants/tenant-stream';
import { TenantKeysHandler } from './tenants/tenant-keys.handler';
import { TenantKeysController } from './tenants/tenant-keys.http';
import { TenantsController } from './tenants/tenants.http';
import { ImportUsersHandler } from './user-import/user-import.handler';
import { UserImportRoutes } from './user-import/user-import.http';
import { VerificationFlow } from './verification/verification.flow';
import { VerifyEmailHandler } from './verification/verification.handler';
import { VerificationController } from './verification/verification.http';

/** What register runs on, opened by main (or a test) before the module is built. */
export interface RegisterRuntime {
  readonly infrastructure: ServiceInfrastructure;
  readonly mailer: Mailer;
  readonly accessTokens: AccessTokenVerifier;
  readonly adminToken: string;
  /** Where erasure requests are recorded apart from the database (none when not configured). */
  readonly erasureLedger?: ErasureLedger;
  readonly settings: RegisterSettings;
  readonly maxProjectionLagMs: number;
  readonly requestLimits: RequestLimitSettings;
  /** argon2id hashes one tenant may have in flight in this process. */
  readonly hashesPerTenant: number;
  /** Exports' link lifetime and where the other services' sections are fetched; 24 h and nowhere by default. */
  readonly exports?: ExportSettings;
  /** The hosted pages' form key, and login's public URL, where journeys continue. */
  readonly pages: { readonly formKey: Buffer; readonly continueBase?: string };
}

/** Register's projection runners: the read models' and that of its part of erasure requests (see erasure.projection.ts). */
const PROJECTION_RUNNERS = Symbol('ProjectionRunners');
const ERASURES_RUNNER = Symbol('ErasuresRunner');
const EMAIL_CHANGES_RUNNER = Symbol('EmailChangesRunner');
const EXPORTS_RUNNER = Symbol('ExportsRunner');

@Module({})
export class RegisterModule {
  static forRoot(runtime: RegisterRuntime): DynamicModule {
    const { infrastructure } = runtime;
    const devMailbox = runtime.mailer instanceof DevMailbox ? runtime.mailer : undefined;
    const exportParts = new ExportParts('register_export_parts', infrastructure.personalData);
    const exportSection = exportSections({
      service: 'register',
      parts: exportParts,
      store: infrastructure.eventStore,
      codec: infrastructure.codec,
      personalData: infrastructure.personalData,
      dataSource: infrastructure.dataSource,
      gather: registerSection(infrastructure.commands),
    });
    const providers: Provider[] = [
      { provide: ServiceInfrastructure, useValue: infrastructure },
      { provide: EVENT_STORE, useValue: infrastructure.eventStore },
      { provide: DataSource, useValue: infrastructure.dataSource },
      { provide: CommandRunner, useValue: infrastructure.commands },
      { provide: EventCodec, useValue: infrastructure.codec },
      { provide: PersonalDataEraser, useValue: infrastructure.personalData },
      {
        provide: EmailIndex,
        useValue: { of: (tenantId: string, email: string) => blindIndex(infrastructure.blindIndexKey, tenantId, 'email', email) },
      },
      { provide: Mailer, useValue: runtime.mailer },
      { provide: AccessTokenVerifier, useValue: runtime.accessTokens },
      { provide: ADMIN_TOKEN, useValue: runtime.adminToken },
      { provide: ErasureLedger, useValue: runtime.erasureLedger ?? new NoErasureLedger() },
      { provide: TenantKeyLookup, useValue: new TenantKeyLookup(infrastructure.pool, TENANT_KEYS_TABLE) },
      { provide: REGISTER_SETTINGS, useValue: runtime.settings },
      { provide: PAGE_FORMS, useValue: new PageForms(runtime.pages.formKey, runtime.pages.continueBase) },
      { provide: Clock, useClass: SystemClock },
      {
        // One call for both: the runners share their metrics. The erasures have a runner (and a checkpoint) of their
        // own because an erasure calls commands and waits on them, which must not hold up the profiles; so do the
        // links of e-mail changes (see email-change-links.ts).
        provide: PROJECTION_RUNNERS,
        inject: [MetricsRegistry, SERVICE_LOGGER, EraseUserHandler, ExportRequests, EmailChangeLinks],
        useFactory: (
          metrics: MetricsRegistry,
          logger: Logger,
          erasures: EraseUserHandler,
          exportRequests: ExportRequests,
          emailChangeLinks: EmailChangeLinks,
        ) =>
          projectionRunners(
            [
              registerReadModelProjection,
              erasureProjection({
                store: infrastructure.eventStore,
                codec: infrastructure.codec,
                erasures,
                eraser: infrastructure.personalData,
                exports: exportRequests,
              }),
              exportSection.projection,
              emailChangeLinksProjection(emailChangeLinks),
            ],
            { store: infrastructure.eventStore, codec: infrastructure.codec, dataSource: infrastructure.dataSource },
            metrics,
            logger,
          ),
      },
      { provide: ProjectionRunner, inject: [PROJECTION_RUNNERS], useFactory: (runners: ProjectionRunner[]) => runners[0] },
      { provide: ERASURES_RUNNER, inject: [PROJECTION_RUNNERS], useFactory: (runners: ProjectionRunner[]) => runners[1] },
      { provide: EXPORTS_RUNNER, inject: [PROJECTION_RUNNERS], useFactory: (runners: ProjectionRunner[]) => runners[2] },
      { provide: REGISTER_EXPORT_PARTS, useValue: exportParts },
      { provide: EXPORT_SETTINGS, useValue: runtime.exports ?? { linkTtlMs: 24 * 3600 * 1000, sectionUrls: {} } },
      { provide: EMAIL_CHANGES_RUNNER, inject: [PROJECTION_RUNNERS], useFactory: (runners: ProjectionRunner[]) => runners[3] },
      {
        provide: RequestLimits,
        inject: [MetricsRegistry],
        useFactory: (metrics: MetricsRegistry) =>
          new RequestLimits(infrastructure.pool, infrastructure.blindIndexKey, runtime.requestLimits, metrics),
      },
      {
        provide: PasswordHasher,
        inject: [MetricsRegistry],
        useFactory: (metrics: MetricsRegistry) => new PasswordHasher(metrics, runtime.hashesPerTenant),
      },
      {
        provide: RuntimeLifecycle,
        inject: [
          ReadinessChecks,
          ProjectionRunner,
          ERASURES_RUNNER,
          EXPORTS_RUNNER,
          EMAIL_CHANGES_RUNNER,
          RequestLimits,
          ExportRequests,
          SERVICE_LOGGER,
        ],
        useFactory: (
          checks: ReadinessChecks,
          projection: ProjectionRunner,
          erasures: ProjectionRunner,
          exportRunner: ProjectionRunner,
          emailChanges: ProjectionRunner,
          limits: RequestLimits,
          exportRequests: ExportRequests,
          logger: Logger,
        ) =>
          new RuntimeLifecycle(checks, {
            infrastructure,
            followers: [projection, erasures, emailChanges],
            // A slow export (a person with a long history) must not take register out of rotation.
            ungatedFollowers: [exportRunner],
            maxLagMs: runtime.maxProjectionLagMs,
            tasks: [
              limitsCleanup(limits, runtime.requestLimits.windowMs, logger),
              exportsExpiry(exportRequests, runtime.exports, logger),
              exportSection.writer.reportingTo((fields, message) => logger.warn(fields, message)),
            ],
            release: [() => runtime.mailer.close()],
          }),
      },
      {
        provide: ParkedEventsAdmin,
        inject: [TenantAccess, ProjectionRunner, ERASURES_RUNNER, EXPORTS_RUNNER, EMAIL_CHANGES_RUNNER],
        useFactory: (
          access: TenantAccess,
          projection: ProjectionRunner,
          erasures: ProjectionRunner,
          exportRunner: ProjectionRunner,
          emailChanges: ProjectionRunner,
        ) =>
          new ParkedEventsAdmin({
            requireAdmin: (headers) => access.requireAdmin({ headers }),
            tenantIdOf: async (slug) => (await access.tenant(slug)).tenantId,
            projections: [projection.name, erasures.name, exportRunner.name, emailChanges.name],
            runners: [projection, erasures, exportRunner, emailChanges],
            dataSource: infrastructure.dataSource,
          }),
      },
      ReadModels,
      BackgroundWork,
      TenantDirectory,
      TenantAccess,
      CreateTenantHandler,
      TenantStream,
      TenantKeysHandler,
      EmailClaims,
      SignUpHandler,
      ImportUsersHandler,
      UserImportRoutes,
      VerifyEmailHandler,
      RequestMailedLinkHandler,
      SignUpFlow,
      VerificationFlow,
      PasswordResetFlow,
      ConfirmPasswordResetHandler,
      ChangeOwnAccountHandler,
      EraseUserHandler,
      ErasureRequests,
      EmailChangeLinks,
      ConfirmEmailChangeHandler,
      EmailChangeFlow,
      ExportRequests,
      ExportDocuments,
      ...(devMailbox ? [{ provide: DevMailbox, useValue: devMailbox }] : []),
    ];
    return {
      module: RegisterModule,
      controllers: [
        TenantsController,
        TenantKeysController,
        TenantBrandingController,
        SignUpController,
        VerificationController,
        PasswordResetController,
        ProfileController,
        EmailChangeController,
        EmailChangeConfirmationController,
        ConsentController,
        ErasureController,
        ErasureRequestsController,
        ExportsController,
        ParkedEventsController,
        JourneyPagesController,
        JourneyScriptController,
        ...(devMailbox ? [DevMailboxController] : []),
      ],
      providers,
    };
  }
}

/** Deletes request-limit windows no limit reads any more; every replica may run it, it only deletes. */
function limitsCleanup(limits: RequestLimits, windowMs: number, logger: Logger): PeriodicTask {
  return new PeriodicTask('request-limits-cleanup', Math.min(windowMs, 5 * 60_000), () => limits.forgetExpired(), {
    warn: (fields, message) => logger.warn(fields, message),
  });
}

/** Expired exports nobody came back for: their keys destroyed and every service's part deleted. */
function exportsExpiry(exports: ExportRequests, settings: ExportSettings | undefined, logger: Logger): PeriodicTask {
  return new PeriodicTask('exports-expiry', settings?.sweepIntervalMs ?? 5 * 60_000, () => exports.discardExpired(randomUUID()), {
    warn: (fields, message) => logger.warn(fields, message),
  });
}
