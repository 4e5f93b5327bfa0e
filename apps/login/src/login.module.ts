import { EXPORT_PART_SOURCE, ExportParts, ExportPartsController, exportPartSource, exportSections } from '#contracts';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { Logger } from 'pino';
import {
  CommandRunner,
  ParkedEventsAdmin,
  ParkedEventsController,
  ProjectionRunner,
  projectionRunners,
  RuntimeLifecycle,
  ServiceInfrastructure,
} from '#cqrs';
import { MetricsRegistry, ReadinessChecks, SERVICE_LOGGER, TenantConcurrencyLimiter } from '#platform';
import { ADMIN_TOKEN, requireAdmin } from './admin-access';
import { ClientCache, ClientChangeListener } from './clients/client-cache';
import { ClientsController } from './clients/clients.http';
import { LoginDirectory } from './directory';
import { SigningKeys } from './keys/signing-keys';
import { LoginEventLog } from './login-events';
import { loginReadModelProjection } from './login.projection';
import { loginErasuresProjection } from './privacy/erasures.projection';
import { loginSection } from './privacy/export-section';
import { ExpiredArtefactsCleanup } from './oidc/expiry-cleanup';
import { OIDC_REQUEST_LIMITER, OidcMount } from './oidc/oidc-mount';
import { ProviderCache } from './oidc/provider-cache';
import { buildProvider } from './oidc/provider-factory';
import { CSRF_SECRET, InteractionController, SIGN_IN_LIMITER } from './sign-in/interaction.http';
import { InteractionAccess } from './sign-in/interaction-access';
import { JOURNEYS } from './sign-in/journeys';
import { DEFAULT_LOCALE } from './messages/messages';
import { LegacyPasswordRehash } from './sign-in/legacy-rehash';
import { AccountSecurityController } from './mfa/account-security.http';
import { SecondFactorPolicies, secondFactorWanted } from './mfa/policy';
import { SecondFactors } from './mfa/second-factors';
import { factorsStreamFor } from './mfa/factors.events';
import { PasskeyChallenges } from './mfa/passkey-challenges';
import { SignInChallenges } from './mfa/sign-in-challenges';
import { PasskeyScriptController } from './mfa/passkey-script';
import { PasskeySignInController } from './mfa/passkey-sign-in.http';
import { Passkeys, relyingPartyOf } from './mfa/passkeys';
import { SecondFactorsAdminController } from './mfa/second-factors.http';
import { PasswordCheck } from './sign-in/password-check';
import { grantStreamFor, SessionEnded, sessionStreamFor, TokensRevoked } from './sign-in/sign-in.events';
import { AccountAccess } from './account/account-access';
import { AccountController } from './account/account.http';
import { PasswordChange } from './account/password-change';
import { EmailChangeRequests } from './account/email-change';
import { PersonSessions } from './account/sessions';

/** What login runs on; see login.runtime.ts. */
export type { LoginRuntime } from './login.runtime';
import type { LoginRuntime } from './login.runtime';

/** Login's projection runners: the read models' and that of its part of erasure requests (see privacy/erasures.projection.ts). */
const PROJECTION_RUNNERS = Symbol('ProjectionRunners');
const ERASURES_RUNNER = Symbol('ErasuresRunner');
const EXPORTS_RUNNER = Symbol('ExportsRunner');

@Module({})
export class LoginModule {
  static forRoot(runtime: LoginRuntime): DynamicModule {
    const { infrastructure } = runtime;
    const directory = new LoginDirectory(infrastructure.pool);
    const exportParts = new ExportParts('login_export_parts', infrastructure.personalData);
    const exportSection = exportSections({
      service: 'login',
      parts: exportParts,
      store: infrastructure.eventStore,
      codec: infrastructure.codec,
      personalData: infrastructure.personalData,
      dataSource: infrastructure.dataSource,
      gather: loginSection({ store: infrastructure.eventStore, codec: infrastructure.codec }),
    });
    const clients = new ClientCache(infrastructure.pool, runtime.clientCacheSize);
    const events = new LoginEventLog(infrastructure.eventStore, infrastructure.codec, infrastructure.pool);
    const signIns = new TenantConcurrencyLimiter(runtime.perTenantInFlight.signIns);
    const policies = new SecondFactorPolicies(infrastructure.commands);
    // Session tracking windows are generous; keys retired longer than a refresh token lives are useless.
    const keys = new SigningKeys(
      infrastructure.pool,
      infrastructure.personalData,
      Math.max(runtime.provider.refreshTokenTtlS, runtime.provider.accessTokenTtlS) * 1000,
    );
    const factorLockout = {
      threshold: runtime.signIn.lockoutThreshold,
      windowMs: runtime.signIn.lockoutWindowMs,
      cooldownMs: runtime.signIn.lockoutCooldownMs,
    };
    const providers: Provider[] = [
      { provide: ServiceInfrastructure, useValue: infrastructure },
      { provide: CommandRunner, useValue: infrastructure.commands },
      { provide: LoginDirectory, useValue: directory },
      { provide: LoginEventLog, useValue: events },
      { provide: SigningKeys, useValue: keys },
      {
        provide: ProviderCache,
        inject: [SERVICE_LOGGER],
        useFactory: (logger: Logger) =>
          new ProviderCache(runtime.providerCacheSize, (tenant) =>
            buildProvider(tenant, {
              pool: infrastructure.pool,
              directory,
              clients,
              keys,
              settings: runtime.provider,
              // The interaction read of a password post says how far the person's factors have got when it can.
              factorsStreamPrefix: infrastructure.eventStore.transactional?.sharesDatabaseWith(infrastructure.pool)
                ? (tenantId) => factorsStreamFor(tenantId, '')
                : undefined,
              hooks: {
                onGrantRevoked: (t, grantId) =>
                  void events
                    .record(grantStreamFor(t.tenantId, grantId), t.tenantId, [
                      TokensRevoked({ grantId, reason: 'grant_revoked', at: new Date().toISOString() }),
                    ])
                    // The revocation itself has happened; only its record for other services is missing.
                    .catch((error: unknown) => logger.warn({ tenant: t.slug, err: error }, 'could not record a revoked grant')),
                onSessionEnded: (t, accountId) =>
                  void events
                    .record(sessionStreamFor(t.tenantId, accountId), t.tenantId, [
                      SessionEnded({ userId: accountId, reason: 'logout', at: new Date().toISOString() }),
                    ])
                    .catch((error: unknown) => logger.warn({ tenant: t.slug, err: error }, 'could not record an ended session')),
                onServerError: (t, error) => logger.error({ tenant: t.slug, err: error }, 'an OpenID provider request failed'),
                secondFactorWanted: async (t, clientId, asked) => secondFactorWanted(await policies.of(t.tenantId), clientId, asked),
              },
            }),
          ),
      },
      { provide: ClientCache, useValue: clients },
      { provide: ADMIN_TOKEN, useValue: runtime.adminToken },
      { provide: CSRF_SECRET, useValue: runtime.csrfSecret },
      {
        provide: InteractionAccess,
        inject: [ProviderCache],
        useFactory: (providerCache: ProviderCache) => new InteractionAccess(directory, providerCache, events, runtime.csrfSecret),
      },
      {
        provide: AccountAccess,
        inject: [ProviderCache],
        useFactory: (providerCache: ProviderCache) =>
          new AccountAccess(directory, providerCache, runtime.csrfSecret, runtime.provider.defaultLocale),
      },
      { provide: PasswordChange, useValue: new PasswordChange(infrastructure.commands) },
      { provide: EmailChangeRequests, useValue: new EmailChangeRequests(infrastructure.commands) },
      { provide: PersonSessions, useValue: new PersonSessions(infrastructure.pool, events, runtime.provider.sessionTtlS) },
      { provide: JOURNEYS, useValue: runtime.journeys },
      { provide: DEFAULT_LOCALE, useValue: runtime.provider.defaultLocale },
      { provide: SIGN_IN_LIMITER, useValue: signIns },
      { provide: OIDC_REQUEST_LIMITER, useValue: new TenantConcurrencyLimiter(runtime.perTenantInFlight.oidcRequests) },
      { provide: SecondFactorPolicies, useValue: policies },
      { provide: SecondFactors, useValue: new SecondFactors(infrastructure.commands, factorLockout) },
      {
        provide: Passkeys,
        useValue: new Passkeys(
          infrastructure.commands,
          factorLockout,
          new PasskeyChallenges(infrastructure.pool),
          new SignInChallenges(runtime.passkeyChallengeSecret),
          relyingPartyOf(runtime.provider.publicUrl),
        ),
      },
      {
        provide: PasswordCheck,
        inject: [SERVICE_LOGGER],
        useFactory: (logger: Logger) =>
          new PasswordCheck(
            infrastructure.pool,
            infrastructure.blindIndexKey,
            events,
            runtime.signIn,
            new LegacyPasswordRehash(infrastructure.commands, logger),
            (tenantId) => (work, verification) => {
              // The sign-in already holds one slot of the tenant's share; the hash's work beyond ours takes more.
              const beyond = Math.min(Math.ceil(work), signIns.limit) - 1;
              return beyond > 0 ? signIns.runHeavy(tenantId, verification, 'sign-ins', beyond) : verification();
            },
          ),
      },
      {
        // One call for both: the runners share their metrics. Erasures keep a checkpoint of their own.
        provide: PROJECTION_RUNNERS,
        inject: [MetricsRegistry, SERVICE_LOGGER],
        useFactory: (metrics: MetricsRegistry, logger: Logger) =>
          projectionRunners(
            [
              loginReadModelProjection,
              loginErasuresProjection({ store: infrastructure.eventStore, codec: infrastructure.codec }),
              exportSection.projection,
            ],
            { store: infrastructure.eventStore, codec: infrastructure.codec, dataSource: infrastructure.dataSource },
            metrics,
            logger,
          ),
      },
      { provide: ProjectionRunner, inject: [PROJECTION_RUNNERS], useFactory: (runners: ProjectionRunner[]) => runners[0] },
      { provide: ERASURES_RUNNER, inject: [PROJECTION_RUNNERS], useFactory: (runners: ProjectionRunner[]) => runners[1] },
      { provide: EXPORTS_RUNNER, inject: [PROJECTION_RUNNERS], useFactory: (runners: ProjectionRunner[]) => runners[2] },
      { provide: EXPORT_PART_SOURCE, useValue: exportPartSource('login', exportParts, infrastructure) },
      {
        provide: RuntimeLifecycle,
        inject: [ReadinessChecks, ProjectionRunner, ERASURES_RUNNER, EXPORTS_RUNNER, SERVICE_LOGGER],
        useFactory: (
          checks: ReadinessChecks,
          projection: ProjectionRunner,
          erasures: ProjectionRunner,
          exportRunner: ProjectionRunner,
          logger: Logger,
        ) => {
          const warn = (fields: object, message: string) => logger.warn(fields, message);
          return new RuntimeLifecycle(checks, {
            infrastructure,
            followers: [projection, erasures],
            // A long export must not take sign-in out of rotation.
            ungatedFollowers: [exportRunner],
            maxLagMs: runtime.maxProjectionLagMs,
            tasks: [
              new ExpiredArtefactsCleanup(infrastructure.pool, warn),
              new ClientChangeListener(clients, runtime.databaseUrl, warn),
              exportSection.writer.reportingTo(warn),
            ],
          });
        },
      },
      {
        provide: ParkedEventsAdmin,
        inject: [ProjectionRunner, ERASURES_RUNNER, EXPORTS_RUNNER],
        useFactory: (projection: ProjectionRunner, erasures: ProjectionRunner, exportRunner: ProjectionRunner) =>
          new ParkedEventsAdmin({
            requireAdmin: (headers) => requireAdmin(headers, runtime.adminToken),
            tenantIdOf: async (slug) => (await directory.tenantBySlug(slug))?.tenantId,
            projections: [projection.name, erasures.name, exportRunner.name],
            runners: [projection, erasures, exportRunner],
            dataSource: infrastructure.dataSource,
          }),
      },
      OidcMount,
    ];
    return {
      module: LoginModule,
      controllers: [
        ExportPartsController,
        ClientsController,
        InteractionController,
        PasskeySignInController,
        PasskeyScriptController,
        AccountSecurityController,
        AccountController,
        SecondFactorsAdminController,
        ParkedEventsController,
      ],
      providers,
    };
  }
}
