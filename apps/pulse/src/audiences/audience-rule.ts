import type { JsonValue } from '#eventstore';
import { BOUNDS, textProblem, type FieldError } from '#platform';

/**
 * The audience rule language: JSON, so there is no grammar to get wrong and nothing to eval.
 *
 *   {"and": [rule, …]} | {"or": [rule, …]} | {"not": rule}
 *   {"trait": "plan", "op": "eq", "value": "pro"}          a profile trait (from identify)
 *   {"computed": "orders_30d", "op": "gte", "value": 3}    a computed trait, by key
 *
 * Operators: eq, ne, gt, gte, lt, lte (numbers with numbers, strings with strings: ISO instants
 * compare as strings), exists and missing (no value). The language is total: a comparison with a
 * missing value or a value of another type is false, never an error, so every profile evaluates.
 * Rules are parsed once, when defined, with bounded depth and size, so a hostile body costs at most
 * MAX_RULE_NODES steps to refuse and a stored rule at most as many to evaluate.
 */
export type AudienceRule =
  { readonly and: readonly AudienceRule[] } | { readonly or: readonly AudienceRule[] } | { readonly not: AudienceRule } | Comparison;

export type Comparison =
  | { readonly trait: string; readonly op: ComparisonOp; readonly value?: Scalar }
  | { readonly computed: string; readonly op: ComparisonOp; readonly value?: Scalar };

type Scalar = string | number | boolean;
export const COMPARISON_OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'exists', 'missing'] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

export const MAX_RULE_DEPTH = 8;
export const MAX_RULE_NODES = 64;
const MAX_OPERANDS = 20;
const VALUE_LENGTH = 512;

/** What a rule is evaluated against: the profile's traits and its computed traits. */
export interface ProfileFacts {
  readonly traits: Readonly<Record<string, JsonValue | undefined>>;
  readonly computed: Readonly<Record<string, JsonValue | undefined>>;
}

export type ParsedRule = { readonly rule: AudienceRule; readonly problems?: undefined } | { readonly problems: FieldError[] };

/** Parses `input` as a rule; problems name the field by JSON pointer under `pointer`. */
export function parseRule(input: unknown, pointer: string): ParsedRule {
  const budget = { nodes: 0 };
  const problems: FieldError[] = [];
  const rule = parseNode(input, pointer, 1, budget, problems);
  return rule && problems.length === 0 ? { rule } : { problems: problems.length > 0 ? problems : [{ pointer, message: 'is not a rule' }] };
}

function parseNode(
  input: unknown,
  pointer: string,
  depth: number,
  budget: { nodes: number },
  problems: FieldError[],
): AudienceRule | undefined {
  if (problems.length > 0) return undefined;
  const fail = (at: string, message: string) => {
    problems.push({ pointer: at, message });
    return undefined;
  };
  if (depth > MAX_RULE_DEPTH) return fail(pointer, `rules nest at most ${MAX_RULE_DEPTH} levels`);
  if (++budget.nodes > MAX_RULE_NODES) return fail(pointer, `a rule has at most ${MAX_RULE_NODES} parts`);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail(pointer, 'must be an object');
  const keys = Object.keys(input);
  const field = (key: string): unknown => (Object.hasOwn(input, key) ? (input as Record<string, unknown>)[key] : undefined);
  if (keys.length === 1 && (keys[0] === 'and' || keys[0] === 'or')) {
    const key = keys[0];
    const operands = field(key);
    const at = `${pointer}/${key}`;
    if (!Array.isArray(operands) || operands.length === 0) return fail(at, 'must be a non-empty array of rules');
    if (operands.length > MAX_OPERANDS) return fail(at, `must hold at most ${MAX_OPERANDS} rules`);
    const parsed: AudienceRule[] = [];
    for (let i = 0; i < operands.length; i++) {
      const operand = parseNode(operands[i], `${at}/${i}`, depth + 1, budget, problems);
      if (!operand) return undefined;
      parsed.push(operand);
    }
    return key === 'and' ? { and: parsed } : { or: parsed };
  }
  if (keys.length === 1 && keys[0] === 'not') {
    const operand = parseNode(field('not'), `${pointer}/not`, depth + 1, budget, problems);
    return operand && { not: operand };
  }
  return parseComparison(input as Record<string, unknown>, keys, pointer, fail);
}

function parseComparison(
  input: Record<string, unknown>,
  keys: readonly string[],
  pointer: string,
  fail: (at: string, message: string) => undefined,
): Comparison | undefined {
  const subject = keys.includes('trait') ? 'trait' : keys.includes('computed') ? 'computed' : undefined;
  if (!subject) return fail(pointer, 'must be and, or, not, or a comparison of a trait or computed trait');
  const unknown = keys.find((key) => key !== subject && key !== 'op' && key !== 'value');
  if (unknown !== undefined) return fail(`${pointer}/${escape(unknown)}`, 'unknown field');
  const name = input[subject];
  const nameProblem = typeof name === 'string' ? textProblem(name, 'identifier', BOUNDS.identifierLength) : 'must be a string';
  if (nameProblem || typeof name !== 'string' || name === '') return fail(`${pointer}/${subject}`, nameProblem ?? 'must not be empty');
  const op = input.op;
  if (typeof op !== 'string' || !(COMPARISON_OPS as readonly string[]).includes(op)) {
    return fail(`${pointer}/op`, `must be one of ${COMPARISON_OPS.join(', ')}`);
  }
  const unary = op === 'exists' || op === 'missing';
  const value = input.value;
  if (unary) {
    if (Object.hasOwn(input, 'value')) return fail(`${pointer}/value`, `${op} takes no value`);
    return subject === 'trait' ? { trait: name, op: op as ComparisonOp } : { computed: name, op: op as ComparisonOp };
  }
  const valueProblem = scalarProblem(value, op);
  if (valueProblem) return fail(`${pointer}/value`, valueProblem);
  const scalar = value as Scalar;
  return subject === 'trait'
    ? { trait: name, op: op as ComparisonOp, value: scalar }
    : { computed: name, op: op as ComparisonOp, value: scalar };
}

function scalarProblem(value: unknown, op: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'must be a finite number';
  if (typeof value === 'string') return textProblem(value, 'identifier', VALUE_LENGTH);
  if (typeof value === 'boolean') return op === 'eq' || op === 'ne' ? undefined : `${op} compares numbers or strings`;
  return 'must be a string, a number or a boolean';
}

function escape(key: string): string {
  return key.slice(0, 64).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The computed traits a rule reads, each with the JSON pointer of its comparison under `pointer`. */
export function computedReferences(rule: AudienceRule, pointer = ''): { key: string; pointer: string }[] {
  if ('and' in rule) return rule.and.flatMap((operand, i) => computedReferences(operand, `${pointer}/and/${i}`));
  if ('or' in rule) return rule.or.flatMap((operand, i) => computedReferences(operand, `${pointer}/or/${i}`));
  if ('not' in rule) return computedReferences(rule.not, `${pointer}/not`);
  return 'computed' in rule ? [{ key: rule.computed, pointer: `${pointer}/computed` }] : [];
}

/** The profile traits a rule reads: only those are opened for it. */
export function profileTraitsOf(rule: AudienceRule): string[] {
  if ('and' in rule) return rule.and.flatMap(profileTraitsOf);
  if ('or' in rule) return rule.or.flatMap(profileTraitsOf);
  if ('not' in rule) return profileTraitsOf(rule.not);
  return 'trait' in rule ? [rule.trait] : [];
}

/** Whether a profile with these facts is in the audience. Pure and total. */
export function matches(rule: AudienceRule, facts: ProfileFacts): boolean {
  if ('and' in rule) return rule.and.every((operand) => matches(operand, facts));
  if ('or' in rule) return rule.or.some((operand) => matches(operand, facts));
  if ('not' in rule) return !matches(rule.not, facts);
  const values = 'trait' in rule ? facts.traits : facts.computed;
  const name = 'trait' in rule ? rule.trait : rule.computed;
  const actual = Object.hasOwn(values, name) ? values[name] : undefined;
  const present = actual !== undefined && actual !== null;
  if (rule.op === 'exists') return present;
  if (rule.op === 'missing') return !present;
  if (!present || typeof actual !== typeof rule.value) return false;
  const a = actual as Scalar;
  const b = rule.value as Scalar;
  switch (rule.op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return typeof a !== 'boolean' && a > b;
    case 'gte':
      return typeof a !== 'boolean' && a >= b;
    case 'lt':
      return typeof a !== 'boolean' && a < b;
    case 'lte':
      return typeof a !== 'boolean' && a <= b;
    default:
      return false;
  }
}
