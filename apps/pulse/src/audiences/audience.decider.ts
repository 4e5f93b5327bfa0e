import { accept, reject, type Decider } from '#cqrs';
import { computedReferences } from './audience-rule';
import {
  AudienceDefined,
  AudienceRemoved,
  ComputedTraitDefined,
  ComputedTraitRemoved,
  type AudienceDefinition,
  type AudienceDefinitionEvent,
  type TraitDefinition,
} from './audience.events';

/** Every message of a tenant is checked against all its computed traits and audiences: both are bounded. */
export const MAX_TRAITS_PER_TENANT = 100;
export const MAX_AUDIENCES_PER_TENANT = 100;

export interface AudiencesState {
  readonly traits: Readonly<Record<string, TraitDefinition>>;
  readonly audiences: Readonly<Record<string, AudienceDefinition>>;
}

export type AudiencesCommand =
  | { readonly type: 'DefineTrait'; readonly key: string; readonly definition: TraitDefinition; readonly now: Date }
  | { readonly type: 'RemoveTrait'; readonly key: string; readonly now: Date }
  | { readonly type: 'DefineAudience'; readonly key: string; readonly definition: AudienceDefinition; readonly now: Date }
  | { readonly type: 'RemoveAudience'; readonly key: string; readonly now: Date };

export type AudiencesRejection =
  | { readonly kind: 'KeyTaken'; readonly key: string }
  | { readonly kind: 'LimitReached'; readonly limit: number }
  | { readonly kind: 'UnknownComputedTrait'; readonly key: string; readonly pointer: string }
  | { readonly kind: 'TraitInUse'; readonly key: string; readonly audiences: readonly string[] }
  | { readonly kind: 'NotFound'; readonly key: string };

const has = (record: Readonly<Record<string, unknown>>, key: string) => Object.hasOwn(record, key);

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

/**
 * A tenant's computed traits and audiences, as data on one stream. Keys are unique in their kind
 * and never silently redefined (a changed definition would change what earlier entries meant:
 * remove and define again); an audience may only read computed traits that exist, and a trait an
 * audience reads cannot be removed from under it.
 */
export const audiencesDecider: Decider<AudiencesCommand, AudienceDefinitionEvent, AudiencesState, AudiencesRejection> = {
  initialState: () => ({ traits: {}, audiences: {} }),
  evolve(state, event) {
    switch (event.type) {
      case 'ComputedTraitDefined':
        return { ...state, traits: { ...state.traits, [event.data.key]: event.data.definition } };
      case 'ComputedTraitRemoved':
        return { ...state, traits: without(state.traits, event.data.key) };
      case 'AudienceDefined':
        return { ...state, audiences: { ...state.audiences, [event.data.key]: event.data.definition } };
      case 'AudienceRemoved':
        return { ...state, audiences: without(state.audiences, event.data.key) };
      default:
        return state;
    }
  },
  decide(command, state) {
    const at = command.now.toISOString();
    switch (command.type) {
      case 'DefineTrait': {
        if (has(state.traits, command.key)) return reject({ kind: 'KeyTaken', key: command.key });
        if (Object.keys(state.traits).length >= MAX_TRAITS_PER_TENANT)
          return reject({ kind: 'LimitReached', limit: MAX_TRAITS_PER_TENANT });
        return accept(ComputedTraitDefined({ key: command.key, definition: command.definition, at }));
      }
      case 'RemoveTrait': {
        if (!has(state.traits, command.key)) return reject({ kind: 'NotFound', key: command.key });
        const readers = Object.entries(state.audiences)
          .filter(([, audience]) => computedReferences(audience.rule).some((reference) => reference.key === command.key))
          .map(([key]) => key);
        if (readers.length > 0) return reject({ kind: 'TraitInUse', key: command.key, audiences: readers });
        return accept(ComputedTraitRemoved({ key: command.key, at }));
      }
      case 'DefineAudience': {
        if (has(state.audiences, command.key)) return reject({ kind: 'KeyTaken', key: command.key });
        if (Object.keys(state.audiences).length >= MAX_AUDIENCES_PER_TENANT) {
          return reject({ kind: 'LimitReached', limit: MAX_AUDIENCES_PER_TENANT });
        }
        const unknown = computedReferences(command.definition.rule, '/rule').find((reference) => !has(state.traits, reference.key));
        if (unknown) return reject({ kind: 'UnknownComputedTrait', key: unknown.key, pointer: unknown.pointer });
        return accept(AudienceDefined({ key: command.key, definition: command.definition, at }));
      }
      case 'RemoveAudience': {
        if (!has(state.audiences, command.key)) return reject({ kind: 'NotFound', key: command.key });
        return accept(AudienceRemoved({ key: command.key, at }));
      }
    }
  },
};
