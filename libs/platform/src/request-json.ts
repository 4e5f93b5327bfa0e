import { ProblemError, RequestValidationError, jsonPointer, type FieldError } from './problem-details';

/** Objects can be escaped (`"\u005f_proto__"`); without any of these in the text no key can be one. */
const mayHoldPrototypeKey = /proto|constructor|\\u/;

/**
 * A JSON request body, parsed. A key `__proto__` (or `constructor` holding `prototype`) is the
 * start of prototype pollution wherever a body is later merged into another object, so such a
 * body is refused — as a validation failure naming the object that holds the key, not as
 * "malformed JSON" (it is well-formed: the client deserves to know which value was refused).
 */
export function parseRequestJson(text: string): unknown {
  if (text.length === 0) throw malformed('The request body is empty but declared as JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('The request body is not valid JSON');
  }
  if (mayHoldPrototypeKey.test(text)) {
    const holders = prototypeKeyHolders(parsed);
    if (holders.length > 0) throw new RequestValidationError(holders);
  }
  return parsed;
}

function malformed(detail: string): ProblemError {
  return new ProblemError({ status: 400, type: 'malformed-json', title: 'Malformed JSON', detail });
}

/** A body holding thousands of such keys is answered with the first few, not a problem as large as itself. */
const MAX_NAMED = 20;

interface Visit {
  readonly value: unknown;
  readonly key: PropertyKey | undefined;
  readonly parent: Visit | undefined;
}

/**
 * Every object in the value holding a prototype key, by pointer. Walked without recursion and
 * with parent links rather than copied paths, as a body may nest as deep as its size allows.
 */
function prototypeKeyHolders(root: unknown): FieldError[] {
  const found: FieldError[] = [];
  const pending: Visit[] = [{ value: root, key: undefined, parent: undefined }];
  for (let visit = pending.pop(); visit !== undefined && found.length < MAX_NAMED; visit = pending.pop()) {
    const value = visit.value;
    if (typeof value !== 'object' || value === null) continue;
    if (Object.hasOwn(value, '__proto__')) {
      found.push({ pointer: pointerOf(visit), message: 'holds a "__proto__" key, which no request may carry' });
    } else if (holdsConstructorPrototype(value)) {
      found.push({ pointer: pointerOf(visit), message: 'holds a "constructor" key with a "prototype", which no request may carry' });
    }
    const array = Array.isArray(value);
    for (const [key, child] of Object.entries(value)) pending.push({ value: child, key: array ? Number(key) : key, parent: visit });
  }
  return found.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

function pointerOf(visit: Visit): string {
  const path: PropertyKey[] = [];
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) path.push(at.key);
  return jsonPointer(path.reverse());
}

function holdsConstructorPrototype(value: object): boolean {
  if (!Object.hasOwn(value, 'constructor')) return false;
  const constructor: unknown = (value as { constructor: unknown }).constructor;
  return typeof constructor === 'object' && constructor !== null && Object.hasOwn(constructor, 'prototype');
}
