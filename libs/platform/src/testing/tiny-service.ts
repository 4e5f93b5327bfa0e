import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  NotFoundException,
  Post,
  Res,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Gauge } from 'prom-client';
import { ReadinessChecks, type ReadinessCheck, type ReadinessResult } from '../health';
import { MetricsRegistry } from '../metrics';
import { ProblemError, parseBody } from '../problem-details';

const registration = z.object({
  email: z.email(),
  password: z.string().min(12),
  profile: z.object({ displayName: z.string().min(1) }).strict(),
});

/** Holds a request open until the test lets it go, so "in flight" never depends on a timer. */
@Injectable()
export class RequestGate {
  private releaseGate!: () => void;
  private readonly opened = new Promise<void>((resolve) => (this.releaseGate = resolve));
  private markEntered!: () => void;
  /** Resolves once a gated request has reached its handler. */
  readonly entered = new Promise<void>((resolve) => (this.markEntered = resolve));
  /** What happened, in order, so a test can assert that resources outlived the requests. */
  readonly journal: string[] = [];

  async pass(): Promise<void> {
    this.markEntered();
    await this.opened;
  }

  release(): void {
    this.releaseGate();
  }
}

/** A dependency whose health the test flips. */
@Injectable()
export class SwitchableDependency implements ReadinessCheck {
  readonly name = 'eventstore';
  healthy = true;

  async check(): Promise<ReadinessResult> {
    return this.healthy ? { ok: true, detail: { position: 42 } } : { ok: false, detail: { reason: 'connection refused' } };
  }
}

/** Stands in for a library that registers its own check and metric, as the CQRS lib will. */
@Injectable()
export class ProjectionsStub implements OnModuleInit, OnApplicationShutdown {
  readonly lag: Gauge<'projection'>;

  constructor(
    metrics: MetricsRegistry,
    private readonly readiness: ReadinessChecks,
    private readonly gate: RequestGate,
  ) {
    this.lag = metrics.gauge({ name: 'projection_lag_events', help: 'Events a projection is behind', labelNames: ['projection'] });
  }

  onModuleInit(): void {
    this.lag.set({ projection: 'accounts' }, 3);
    this.readiness.register({ name: 'projections lag', check: async () => ({ ok: true, detail: { maxLag: 3 } }) });
  }

  onApplicationShutdown(): void {
    this.gate.journal.push('resources released');
  }
}

@Controller()
export class TinyController {
  constructor(private readonly gate: RequestGate) {}

  @Post('accounts')
  @HttpCode(201)
  register(@Body() body: unknown): { email: string } {
    const input = parseBody(registration, body);
    return { email: input.email };
  }

  @Get('accounts/taken')
  taken(): never {
    throw new ProblemError({
      status: 409,
      type: 'email-taken',
      title: 'E-mail address already registered',
      detail: 'Sign in instead, or reset the password',
      extensions: { retryable: false },
    });
  }

  @Get('accounts/missing')
  missing(): never {
    throw new NotFoundException('No such account');
  }

  @Get('crash')
  crash(): never {
    throw new Error('connect failed for postgres://tessera:hunter2@db/accounts');
  }

  @Get('slow')
  async slow(): Promise<{ done: true }> {
    await this.gate.pass();
    this.gate.journal.push('slow request answered');
    return { done: true };
  }

  @Get('ping')
  ping(): { pong: true } {
    return { pong: true };
  }

  /** Writes the raw response itself, as a mounted Koa or Express app (login's oidc-provider) does. */
  @Get('raw')
  raw(@Res() reply: FastifyReply): void {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain' });
    reply.raw.end('raw');
  }
}

@Module({
  controllers: [TinyController],
  providers: [RequestGate, SwitchableDependency, ProjectionsStub],
})
export class TinyServiceModule {}
