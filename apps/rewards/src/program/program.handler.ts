import { Injectable } from '@nestjs/common';
import type { CommandContext } from '#cqrs';
import { programStreamFor } from '../rewards.streams';
import { CachedStreams } from '../shared/cached-streams';
import { programDecider, type ProgramState } from './program.decider';
import { completeProgram, type ProgramInput } from './program.events';

@Injectable()
export class ProgramHandler {
  constructor(private readonly streams: CachedStreams) {}

  publish(program: ProgramInput, context: CommandContext) {
    return this.streams.handle({
      streamName: programStreamFor(context.tenantId),
      decider: programDecider,
      command: { program: completeProgram(program), now: context.now },
      context,
    });
  }

  async current(tenantId: string): Promise<ProgramState> {
    return (await this.streams.load(programStreamFor(tenantId), programDecider)).state;
  }
}
