import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { CommandRunner } from '../../../libs/cqrs/src/command-handling';
import { ProjectionMetrics } from '../../../libs/cqrs/src/projection-metrics';
import { ProjectionRunner } from '../../../libs/cqrs/src/projection-runner';
import { ServiceInfrastructure } from '../../../libs/cqrs/src/service-infrastructure';
import { blindIndex } from '../../../libs/personal-data/src/blind-index';
import { ReadinessChecks } from '../../../libs/platform/src/health';
import { SERVICE_LOGGER } from '../../../libs/platform/src/logging';
import { MetricsRegistry } from '../../../libs/platform/src/metrics';
import { AccessTokenVerifier } from './access/access-token';
import { ADMIN_TOKEN, TenantAccess } from './access/tenant-access';
import { ConsentController } from './consent/consent.http';
import { EraseUserHandler } from './erasure/erasure.handler';
import { ErasureController } from './erasure/erasure.http';
import { DevMailboxController } from './mail/dev-mailbox.http';
import { DevMailbox, Mailer } from './mail/mailer';
import { ConfirmPasswordResetHandler, RequestPasswordResetHandler } from './password-reset/password-reset.handler';
import { PasswordResetController } from './password-reset/password-reset.http';
import { ChangeOwnAccountHandler } from './profile/account-commands.handler';
import { registerReadModelProjection } from './profile/profile.projection';
import { ProfileController } from './profile/profile.http';
import { BackgroundWork } from './background-work';
import { ReadModels } from './read-models';
import { Clock, EmailIndex, EVENT_STORE, PersonalDataEraser, REGISTER_SETTINGS, SystemClock, type RegisterSettings } from './register.ports';
import { SignUpHandler } from './sign-up/sign-up.handler';
import { SignUpController } from './sign-up/sign-up.http';
import { CreateTenantHandler } from './tenants/create-tenant.handler';
import { TenantDirectory } from './tenants/tenant-directory';
import { TenantsController } from './tenants/tenants.http';
import { VerifyEmailHandler } from './verification/verification.handler';
import { VerificationController } from './verification/verification.http';

/** What register runs on, opened by main (or a test) before the module is built. */
export interface RegisterRuntime {
  readonly infrastructure: ServiceInfrastructure;
  readonly mailer: Mailer;
  readonly accessTokens: AccessTokenVerifier;
  readonly adminToken: string;
  readonly settings: RegisterSettings;
  readonly maxProjectionLagMs: number;
}

const MAX_PROJECTION_LAG_MS = Symbol('MaxProjectionLagMs');

/** Starts the read-model projection and reports readiness; releases everything on shutdown. */
@Injectable()
class RegisterLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly infrastructure: ServiceInfrastructure,
    private readonly projection: ProjectionRunner,
    private readonly mailer: Mailer,
    private readonly checks: ReadinessChecks,
    @Inject(MAX_PROJECTION_LAG_MS) private readonly maxLagMs: number,
  ) {}

  onApplicationBootstrap(): void {
    this.checks.register({
      name: 'eventstore',
      check: async () => ({ ok: (await this.infrastructure.ping()).eventStore }),
    });
    this.checks.register({
      name: 'postgres',
      check: async () => ({ ok: (await this.infrastructure.ping()).database }),
    });
    this.checks.register({
      name: 'projections',
      check: async () => {
        const lagMs = Math.round(this.projection.lagSeconds() * 1000);
        return { ok: lagMs <= this.maxLagMs, detail: { [this.projection.name]: { lagMs } } };
      },
    });
    this.projection.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.projection.stop();
    await this.mailer.close();
    await this.infrastructure.close();
  }
}

@Module({})
export class RegisterModule {
  static forRoot(runtime: RegisterRuntime): DynamicModule {
    const { infrastructure } = runtime;
    const devMailbox = runtime.mailer instanceof DevMailbox ? runtime.mailer : undefined;
    const providers: Provider[] = [
      { provide: ServiceInfrastructure, useValue: infrastructure },
      { provide: EVENT_STORE, useValue: infrastructure.eventStore },
      { provide: DataSource, useValue: infrastructure.dataSource },
      { provide: CommandRunner, useValue: infrastructure.commands },
      { provide: PersonalDataEraser, useValue: infrastructure.personalData },
      { provide: EmailIndex, useValue: { of: (tenantId: string, email: string) => blindIndex(infrastructure.blindIndexKey, tenantId, 'email', email) } },
      { provide: Mailer, useValue: runtime.mailer },
      { provide: AccessTokenVerifier, useValue: runtime.accessTokens },
      { provide: ADMIN_TOKEN, useValue: runtime.adminToken },
      { provide: REGISTER_SETTINGS, useValue: runtime.settings },
      { provide: MAX_PROJECTION_LAG_MS, useValue: runtime.maxProjectionLagMs },
      { provide: Clock, useClass: SystemClock },
      {
        provide: ProjectionRunner,
        inject: [MetricsRegistry, SERVICE_LOGGER],
        useFactory: (metrics: MetricsRegistry, logger: Logger) =>
          new ProjectionRunner(
            registerReadModelProjection,
            infrastructure.eventStore,
            infrastructure.codec,
            infrastructure.dataSource,
            new ProjectionMetrics(metrics.registry),
            { warn: (message, fields) => logger.warn(fields ?? {}, message) },
          ),
      },
      ReadModels,
      BackgroundWork,
      TenantDirectory,
      TenantAccess,
      RegisterLifecycle,
      CreateTenantHandler,
      SignUpHandler,
      VerifyEmailHandler,
      RequestPasswordResetHandler,
      ConfirmPasswordResetHandler,
      ChangeOwnAccountHandler,
      EraseUserHandler,
      ...(devMailbox ? [{ provide: DevMailbox, useValue: devMailbox }] : []),
    ];
    return {
      module: RegisterModule,
      imports: [CqrsModule.forRoot()],
      controllers: [
        TenantsController,
        SignUpController,
        VerificationController,
        PasswordResetController,
        ProfileController,
        ConsentController,
        ErasureController,
        ...(devMailbox ? [DevMailboxController] : []),
      ],
      providers,
    };
  }
}
