import { Body, Controller, Get, Param, Put, Req } from '@nestjs/common';
import { parseBody, ProblemError, RequestValidationError } from '#platform';
import { Clock } from '../rewards.ports';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { ProgramHandler } from './program.handler';
import { programBody } from './program.schemas';
import type { ProgramState } from './program.decider';

@Controller('t/:tenant/program')
export class ProgramController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly programs: ProgramHandler,
    private readonly clock: Clock,
  ) {}

  /** Replaces the whole program; each change is a new version, and re-sending the same one is a no-op. */
  @Put()
  publish(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const program = parseBody(programBody, body);
      const outcome = await this.programs.publish(program, {
        tenantId: tenant.tenantId,
        correlationId: correlationIdOf(request),
        now: this.clock.now(),
      });
      if (!outcome.accepted) throw new RequestValidationError(outcome.rejection.errors);
      return view(await this.programs.current(tenant.tenantId));
    });
  }

  @Get()
  show(@Param('tenant') slug: string, @Req() request: IncomingRequest) {
    return this.calls.read(request, slug, async (tenant) => {
      const state = await this.programs.current(tenant.tenantId);
      if (!state.program)
        throw new ProblemError({ status: 404, type: 'program-not-found', title: 'No program yet', detail: 'PUT a program first' });
      return view(state);
    });
  }
}

const view = (state: ProgramState) => ({ version: state.version, ...state.program });
