import { Injectable } from '@nestjs/common';
import { CommandRunner, type CommandContext } from '#cqrs';
import { programStreamFor } from '../rewards.streams';
import { programDecider, type ProgramState } from './program.decider';
import { completeProgram, type ProgramInput } from './program.events';

@Injectable()
export class ProgramHandler {
  constructor(private readonly commands: CommandRunner) {}

  publish(program: ProgramInput, context: CommandContext) {
    return this.commands.handle({
      streamName: programStreamFor(context.tenantId),
      decider: programDecider,
      command: { program: completeProgram(program), now: context.now },
      context,
    });
  }

  async current(tenantId: string): Promise<ProgramState> {
    return (await this.commands.load(programStreamFor(tenantId), programDecider)).state;
  }
}
