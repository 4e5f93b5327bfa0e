import { isDeepStrictEqual } from 'node:util';
import { accept, reject, type Decider } from '#cqrs';
import { ProgramPublished, type ProgramDefinition, type ProgramEvent } from './program.events';

export interface PublishProgram {
  readonly program: ProgramDefinition;
  readonly now: Date;
}

export interface ProgramState {
  readonly version: number;
  readonly program?: ProgramDefinition;
}

/** Rules the shape of the request cannot express; each names the JSON pointer at fault. */
export type ProgramRejection = { readonly kind: 'InvalidProgram'; readonly errors: readonly { pointer: string; message: string }[] };

export const programDecider: Decider<PublishProgram, ProgramEvent, ProgramState, ProgramRejection> = {
  initialState: () => ({ version: 0 }),
  evolve: (_state, event) => {
    const { version, publishedAt: _publishedAt, ...program } = event.data;
    return { version, program };
  },
  decide(command, state) {
    const errors = programErrors(command.program);
    if (errors.length > 0) return reject({ kind: 'InvalidProgram', errors });
    // Re-sending the same program (a retried deploy script) must not mint a new version.
    if (state.program && isDeepStrictEqual(state.program, command.program)) return accept();
    return accept(ProgramPublished({ ...command.program, version: state.version + 1, publishedAt: command.now.toISOString() }));
  },
};

function programErrors(program: ProgramDefinition): { pointer: string; message: string }[] {
  const errors: { pointer: string; message: string }[] = [];
  const seen = new Set<string>();
  program.rules.forEach((rule, index) => {
    if (seen.has(rule.id)) errors.push({ pointer: `/rules/${index}/id`, message: 'rule ids must be unique' });
    seen.add(rule.id);
    const { perDay, perMonth } = rule.caps ?? {};
    if (perDay !== undefined && perMonth !== undefined && perDay > perMonth) {
      errors.push({ pointer: `/rules/${index}/caps/perDay`, message: 'the daily cap cannot exceed the monthly cap' });
    }
  });
  const { perMemberPerDay, perMemberPerMonth } = program.limits;
  if (perMemberPerDay !== undefined && perMemberPerMonth !== undefined && perMemberPerDay > perMemberPerMonth)
    errors.push({ pointer: '/limits/perMemberPerDay', message: 'the daily limit cannot exceed the monthly limit' });
  const levels = program.tiers?.levels ?? [];
  if (program.tiers && levels[0]?.threshold !== 0)
    errors.push({ pointer: '/tiers/levels/0/threshold', message: 'the first tier must start at 0 points' });
  levels.forEach((level, index) => {
    if (index > 0 && level.threshold <= levels[index - 1]!.threshold) {
      errors.push({ pointer: `/tiers/levels/${index}/threshold`, message: 'thresholds must increase from one tier to the next' });
    }
    if (levels.findIndex((other) => other.name === level.name) !== index)
      errors.push({ pointer: `/tiers/levels/${index}/name`, message: 'tier names must be unique' });
  });
  return errors;
}
