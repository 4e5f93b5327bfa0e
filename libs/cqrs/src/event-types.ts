import type { JsonObject } from '#eventstore';

/** Which top-level fields of an event's data are personal, and whose they are. */
export interface PersonalDataSpec {
  subject(data: JsonObject): string;
  readonly fields: readonly string[];
}

/** Turns the data of version `from` into the data of version `from + 1`. */
export type Upcaster = (data: JsonObject) => JsonObject;

/**
 * Event data must be plain JSON; `object` rather than JsonObject so payloads can be declared as
 * interfaces with optional fields.
 */
export interface EventDefinition<T extends string = string, D extends object = JsonObject> {
  readonly type: T;
  /** Current schema version; events are always written at this version. */
  readonly version: number;
  readonly personalData?: PersonalDataSpec;
  /** upcasters[v] lifts data written at version v to version v + 1. */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
  /** Builds a typed domain event; the phantom `D` keeps payloads checked at compile time. */
  (data: D): DomainEvent<T, D>;
}

/** What a registry needs of any definition, whatever its payload type. */
export type AnyEventDefinition = Pick<EventDefinition, 'type' | 'version' | 'personalData' | 'upcasters'>;

export interface DomainEvent<T extends string = string, D extends object = object> {
  readonly type: T;
  readonly data: D;
}

export type EventOf<Def> = Def extends EventDefinition<infer T, infer D> ? DomainEvent<T, D> : never;

/**
 * Declares an event type. Once an event type has been written, its shape never changes: a new
 * shape is a new version plus an upcaster from the previous one.
 */
export function defineEvent<D extends object>() {
  return <T extends string>(
    type: T,
    options: { version?: number; personalData?: PersonalDataSpec; upcasters?: Record<number, Upcaster> } = {},
  ): EventDefinition<T, D> => {
    const create = (data: D): DomainEvent<T, D> => ({ type, data });
    return Object.assign(create, {
      type,
      version: options.version ?? 1,
      personalData: options.personalData,
      upcasters: options.upcasters,
    }) as EventDefinition<T, D>;
  };
}

export class UnknownEventTypeError extends Error {
  override readonly name = 'UnknownEventTypeError';
  constructor(readonly type: string) {
    super(`event type ${type} is not registered`);
  }
}

/**
 * An event written by a newer version of the service than this reader. Not a broken event: during
 * a rolling update the old replicas meet what the new ones write. Readers wait (retry) rather than
 * skip it, because the newer replicas will read it as soon as they take over.
 */
export class NewerEventVersionError extends Error {
  override readonly name = 'NewerEventVersionError';
  constructor(
    readonly type: string,
    readonly version: number,
    readonly readerVersion: number,
  ) {
    super(`event ${type} v${version} is newer than this reader (v${readerVersion}): deploy the newer service first`);
  }
}

/** The event types one reader understands, with the upcasting chain of each. */
export class EventRegistry {
  private readonly definitions = new Map<string, AnyEventDefinition>();

  constructor(definitions: Iterable<AnyEventDefinition> = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: AnyEventDefinition): this {
    const existing = this.definitions.get(definition.type);
    if (existing && existing !== definition) {
      throw new Error(`event type ${definition.type} is registered twice with different definitions`);
    }
    for (let v = 1; v < definition.version; v++) {
      if (!definition.upcasters?.[v]) throw new Error(`event type ${definition.type} v${definition.version} lacks an upcaster from v${v}`);
    }
    this.definitions.set(definition.type, definition);
    return this;
  }

  get(type: string): AnyEventDefinition | undefined {
    return this.definitions.get(type);
  }

  has(type: string): boolean {
    return this.definitions.has(type);
  }

  /** Data written at `version` lifted to the definition's current version. */
  upcast(type: string, version: number, data: JsonObject): JsonObject {
    const definition = this.definitions.get(type);
    if (!definition) throw new UnknownEventTypeError(type);
    if (version > definition.version) throw new NewerEventVersionError(type, version, definition.version);
    let lifted = data;
    for (let v = version; v < definition.version; v++) lifted = definition.upcasters![v]!(lifted);
    return lifted;
  }
}
