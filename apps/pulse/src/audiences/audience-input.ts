import { z } from 'zod';
import { bounded, parseBody, RequestValidationError } from '#platform';
import { parseRule } from './audience-rule';
import type { AudienceDefinition, TraitDefinition } from './audience.events';

/** Keys appear in URLs, in messages' properties and in rewards rules: a short token. */
export const DEFINITION_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;
const key = bounded.identifier(64).regex(DEFINITION_KEY, { message: 'must be 1-64 letters, digits, dots, colons, dashes or underscores' });
/** A year: what a window keeps per profile is bounded by it. */
export const MAX_WINDOW_DAYS = 365;
const windowDays = z.number().int().min(1).max(MAX_WINDOW_DAYS);
const event = bounded.identifier().min(1);
const property = bounded.identifier().min(1);
const sources = z
  .array(z.enum(['client', 'server']))
  .min(1)
  .max(2)
  .optional();

const traitBody = z
  .object({
    key,
    definition: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('count'), event, windowDays, sources }).strict(),
      z.object({ kind: z.literal('sum'), event, property, windowDays, sources }).strict(),
      z.object({ kind: z.literal('last'), event, property, sources }).strict(),
      z.object({ kind: z.literal('firstSeen'), event: event.optional() }).strict(),
    ]),
  })
  .strict();

const audienceBody = z.object({ key, name: bounded.name(), rule: z.unknown() }).strict();

export function parseTraitBody(body: unknown): { key: string; definition: TraitDefinition } {
  return parseBody(traitBody, body);
}

/** The rule is parsed here, once: what is stored is a rule that evaluates. */
export function parseAudienceBody(body: unknown): { key: string; definition: AudienceDefinition } {
  const { key: parsedKey, name, rule } = parseBody(audienceBody, body);
  if (rule === undefined) throw new RequestValidationError([{ pointer: '/rule', message: 'required' }]);
  const parsed = parseRule(rule, '/rule');
  if (parsed.problems) throw new RequestValidationError(parsed.problems);
  return { key: parsedKey, definition: { name, rule: parsed.rule } };
}
