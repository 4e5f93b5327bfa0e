import type { JsonObject, JsonValue } from '#eventstore';
import type { DestinationSettings, FieldMapping } from './destination.events';

/**
 * A stored message in Segment's webhook format (what Segment's webhook destination posts): the
 * message as the Segment spec names its fields, `type` for what pulse calls `kind`, without
 * pulse's own bookkeeping (where it came from, whether it carries traits).
 */
export function segmentMessage(stored: JsonObject): JsonObject {
  const { kind, carriesTraits: _carriesTraits, source: _source, ...rest } = stored;
  return { type: kind ?? null, ...rest };
}

/** The destination's mappings applied in order to a copy of the message. */
export function mapped(message: JsonObject, mappings: readonly FieldMapping[]): JsonObject {
  if (mappings.length === 0) return message;
  const copy = structuredClone(message);
  for (const mapping of mappings) {
    if ('drop' in mapping) {
      take(copy, mapping.drop);
      continue;
    }
    const value = take(copy, mapping.rename.from);
    if (value !== undefined) put(copy, mapping.rename.to, value);
  }
  return copy;
}

/** The request body: the message itself, or `{"batch": [...]}` for a destination that batches. */
export function webhookBody(messages: readonly JsonObject[], settings: Pick<DestinationSettings, 'batching'>): string {
  return settings.batching.maxMessages > 1 ? JSON.stringify({ batch: messages }) : JSON.stringify(messages[0]);
}

/** Whether a destination takes this message: its type and, for track, its event name. */
export function passesFilters(settings: DestinationSettings, kind: string, event: string | undefined): boolean {
  const { types, events } = settings.filters;
  if (types && !(types as readonly string[]).includes(kind)) return false;
  if (events && (kind !== 'track' || event === undefined || !events.includes(event))) return false;
  return true;
}

// Paths were checked at the door (no __proto__ and the like); own properties only all the same.
function take(target: JsonObject, path: string): JsonValue | undefined {
  const keys = path.split('.');
  let current: JsonValue | undefined = target;
  for (const key of keys.slice(0, -1)) {
    if (!isObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  const last = keys[keys.length - 1]!;
  if (!isObject(current) || !Object.hasOwn(current, last)) return undefined;
  const value = current[last];
  delete current[last];
  return value;
}

function put(target: JsonObject, path: string, value: JsonValue): void {
  const keys = path.split('.');
  let current: JsonObject = target;
  for (const key of keys.slice(0, -1)) {
    const next = Object.hasOwn(current, key) ? current[key] : undefined;
    if (!isObject(next)) current[key] = {};
    current = current[key] as JsonObject;
  }
  current[keys[keys.length - 1]!] = value;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
