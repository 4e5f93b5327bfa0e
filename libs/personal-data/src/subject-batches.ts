/** One person in one tenant, whose data key is asked for. */
export interface Subject {
  readonly tenantId: string;
  readonly subjectId: string;
}

/** A subject asked for, and everyone waiting for its answer. */
interface Entry<V> {
  readonly subject: Subject;
  readonly settle: { resolve: (value: V) => void; reject: (error: unknown) => void }[];
}

/**
 * Gathers the subjects asked for during one turn of the event loop and answers them with one call
 * of `load` per `maxBatch` subjects: a /v1/batch of 100 people, or the moment a cache's entries
 * for thousands of active people expire together, costs a statement per batch instead of one per
 * person (seen: 1,100 single-key statements a second stalling ingest for seconds every 30 s).
 * A subject asked for twice before the batch leaves shares the one answer.
 */
export class SubjectBatches<V> {
  private waiting = new Map<string, Entry<V>>();

  constructor(
    private readonly load: (subjects: readonly Subject[]) => Promise<Map<string, V | Error>>,
    private readonly keyOf: (subject: Subject) => string,
    private readonly maxBatch: number,
    /**
     * Whether a failed load may be one subject's fault (a value the database refuses), and is worth
     * splitting. An outage is not: splitting it would send a batch's worth of doomed statements.
     */
    private readonly mayBeOneSubjectsFault: (error: unknown) => boolean,
  ) {}

  /**
   * Resolves with what `load` answered for the subject; rejects when `load` failed, left the subject
   * out, or answered an Error for it (a failure of that subject alone, not of its batch).
   */
  get(subject: Subject): Promise<V> {
    const key = this.keyOf(subject);
    return new Promise<V>((resolve, reject) => {
      const entry = this.waiting.get(key);
      if (entry) {
        entry.settle.push({ resolve, reject });
        return;
      }
      // setImmediate, not a microtask: concurrent requests whose lookups start in later microtasks
      // of the same turn (after their own awaits) still join the batch.
      if (this.waiting.size === 0) setImmediate(() => this.flush());
      this.waiting.set(key, { subject, settle: [{ resolve, reject }] });
    });
  }

  private flush(): void {
    const entries = [...this.waiting.entries()];
    this.waiting = new Map();
    for (let first = 0; first < entries.length; first += this.maxBatch) void this.answer(entries.slice(first, first + this.maxBatch));
  }

  /**
   * A statement that fails takes its whole batch with it, and batches mix tenants: a batch the
   * database refused for a value is split in halves until the failure is one subject's own, so one
   * tenant's value cannot fail another tenant's request.
   */
  private async answer(chunk: [string, Entry<V>][]): Promise<void> {
    let found: Map<string, V | Error>;
    try {
      found = await this.load(chunk.map(([, entry]) => entry.subject));
    } catch (error) {
      if (chunk.length === 1 || !this.mayBeOneSubjectsFault(error)) {
        for (const [, entry] of chunk) for (const { reject } of entry.settle) reject(error);
      } else {
        const half = Math.ceil(chunk.length / 2);
        await Promise.all([this.answer(chunk.slice(0, half)), this.answer(chunk.slice(half))]);
      }
      return;
    }
    for (const [key, entry] of chunk) {
      const value = found.get(key);
      for (const { resolve, reject } of entry.settle)
        if (value === undefined) reject(new Error('the batch answered nothing for one of its subjects'));
        else if (value instanceof Error) reject(value);
        else resolve(value);
    }
  }
}
