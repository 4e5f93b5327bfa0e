import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { Logger } from 'pino';
import { CommandRunner } from '../../../libs/cqrs/src/command-handling';
import { ProjectionMetrics } from '../../../libs/cqrs/src/projection-metrics';
import { ProjectionRunner } from '../../../libs/cqrs/src/projection-runner';
import { ServiceInfrastructure } from '../../../libs/cqrs/src/service-infrastructure';
import { ReadinessChecks } from '../../../libs/platform/src/health';
import { SERVICE_LOGGER } from '../../../libs/platform/src/logging';
import { MetricsRegistry } from '../../../libs/platform/src/metrics';
import { ADMIN_TOKEN } from './admin-access';
import { ClientsController } from './clients/clients.http';
import { LoginDirectory } from './directory';
import { SigningKeys } from './keys/signing-keys';
import { LoginEventLog } from './login-events';
import { loginReadModelProjection } from './login.projection';
import { OidcMount } from './oidc/oidc-mount';
import { deleteExpiredModels } from './oidc/postgres-adapter';
import { ProviderCache } from './oidc/provider-cache';
import { buildProvider } from './oidc/provider-factory';
import { CSRF_SECRET, InteractionController } from './sign-in/interaction.http';
import { PasswordCheck } from './sign-in/password-check';
import { grantStreamFor, SessionEnded, sessionStreamFor, TokensRevoked } from './sign-in/sign-in.events';

/** What login runs on; see login.runtime.ts. */
export type { LoginRuntime } from './login.runtime';
import type { LoginRuntime } from './login.runtime';

const MAX_PROJECTION_LAG_MS = Symbol('MaxProjectionLagMs');
const CLEANUP_INTERVAL_MS = 60_000;

/** Starts the projection and the expiry clean-up, reports readiness; releases everything on shutdown. */
@Injectable()
class LoginLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private cleanup?: NodeJS.Timeout;

  constructor(
    private readonly infrastructure: ServiceInfrastructure,
    private readonly projection: ProjectionRunner,
    private readonly checks: ReadinessChecks,
    @Inject(MAX_PROJECTION_LAG_MS) private readonly maxLagMs: number,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.checks.register({ name: 'eventstore', check: async () => ({ ok: (await this.infrastructure.ping()).eventStore }) });
    this.checks.register({ name: 'postgres', check: async () => ({ ok: (await this.infrastructure.ping()).database }) });
    this.checks.register({
      name: 'projections',
      check: async () => {
        const lagMs = Math.round(this.projection.lagSeconds() * 1000);
        return { ok: lagMs <= this.maxLagMs, detail: { [this.projection.name]: { lagMs } } };
      },
    });
    this.projection.start();
    this.cleanup = setInterval(() => {
      deleteExpiredModels(this.infrastructure.pool).catch((error: unknown) =>
        this.logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'expired OIDC artefacts clean-up failed'),
      );
    }, CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.cleanup);
    await this.projection.stop();
    await this.infrastructure.close();
  }
}

@Module({})
export class LoginModule {
  static forRoot(runtime: LoginRuntime): DynamicModule {
    const { infrastructure } = runtime;
    const directory = new LoginDirectory(infrastructure.pool);
    const events = new LoginEventLog(infrastructure.eventStore, infrastructure.codec);
    // Session tracking windows are generous; keys retired longer than a refresh token lives are useless.
    const keys = new SigningKeys(infrastructure.pool, infrastructure.personalData, Math.max(runtime.provider.refreshTokenTtlS, runtime.provider.accessTokenTtlS) * 1000);
    const providerCache = new ProviderCache(runtime.providerCacheSize, (tenant) =>
      buildProvider(tenant, {
        pool: infrastructure.pool,
        directory,
        keys,
        settings: runtime.provider,
        hooks: {
          onGrantRevoked: (t, grantId) =>
            void events
              .record(grantStreamFor(t.tenantId, grantId), t.tenantId, [TokensRevoked({ grantId, reason: 'grant_revoked', at: new Date().toISOString() })])
              .catch(() => undefined),
          onSessionEnded: (t, accountId) =>
            void events
              .record(sessionStreamFor(t.tenantId, accountId), t.tenantId, [SessionEnded({ userId: accountId, reason: 'logout', at: new Date().toISOString() })])
              .catch(() => undefined),
        },
      }),
    );
    const providers: Provider[] = [
      { provide: ServiceInfrastructure, useValue: infrastructure },
      { provide: CommandRunner, useValue: infrastructure.commands },
      { provide: LoginDirectory, useValue: directory },
      { provide: LoginEventLog, useValue: events },
      { provide: SigningKeys, useValue: keys },
      { provide: ProviderCache, useValue: providerCache },
      { provide: ADMIN_TOKEN, useValue: runtime.adminToken },
      { provide: CSRF_SECRET, useValue: runtime.csrfSecret },
      { provide: MAX_PROJECTION_LAG_MS, useValue: runtime.maxProjectionLagMs },
      {
        provide: PasswordCheck,
        useValue: new PasswordCheck(infrastructure.pool, directory, infrastructure.blindIndexKey, events, runtime.signIn),
      },
      {
        provide: ProjectionRunner,
        inject: [MetricsRegistry, SERVICE_LOGGER],
        useFactory: (metrics: MetricsRegistry, logger: Logger) =>
          new ProjectionRunner(
            loginReadModelProjection,
            infrastructure.eventStore,
            infrastructure.codec,
            infrastructure.dataSource,
            new ProjectionMetrics(metrics.registry),
            { warn: (message, fields) => logger.warn(fields ?? {}, message) },
          ),
      },
      OidcMount,
      LoginLifecycle,
    ];
    return { module: LoginModule, controllers: [ClientsController, InteractionController], providers };
  }
}
