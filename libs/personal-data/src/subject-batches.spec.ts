import { SubjectBatches, type Subject } from './subject-batches';

const keyOf = (subject: Subject) => `${subject.tenantId}/${subject.subjectId}`;
const refused = Object.assign(new Error('invalid byte sequence'), { code: '22021' });
const outage = Object.assign(new Error('connection terminated'), { code: '57P01' });

/** A loader that answers each subject by its own name, fails when `fails` says so, and records its calls. */
function loader(fails: (subjects: readonly Subject[]) => Error | undefined = () => undefined) {
  const calls: string[][] = [];
  const load = (subjects: readonly Subject[]) => {
    calls.push(subjects.map(keyOf));
    const failure = fails(subjects);
    if (failure) return Promise.reject(failure);
    return Promise.resolve(new Map<string, string | Error>(subjects.map((s) => [keyOf(s), `key of ${s.subjectId}`])));
  };
  return { load, calls };
}
const isRefusedValue = (error: unknown) => (error as { code?: string }).code?.startsWith('22') === true;
const subject = (tenantId: string, subjectId: string): Subject => ({ tenantId, subjectId });

describe('subject batches', () => {
  it('answers the subjects asked for in one turn with one load, a subject asked twice sharing one answer', async () => {
    const { load, calls } = loader();
    const batches = new SubjectBatches(load, keyOf, 500, isRefusedValue);
    const answers = await Promise.all([
      batches.get(subject('acme', 'ada')),
      batches.get(subject('globex', 'ada')),
      batches.get(subject('acme', 'ada')),
    ]);
    expect(answers).toEqual(['key of ada', 'key of ada', 'key of ada']);
    expect(calls).toEqual([['acme/ada', 'globex/ada']]);
  });

  it('loads at most maxBatch subjects at a time', async () => {
    const { load, calls } = loader();
    const batches = new SubjectBatches(load, keyOf, 2, isRefusedValue);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => batches.get(subject('acme', name))));
    expect(calls.map((call) => call.length)).toEqual([2, 2, 1]);
  });

  it("splits a batch the database refused for a value until the refusal is one subject's, answering all the others", async () => {
    const { load, calls } = loader((subjects) => (subjects.some((s) => s.subjectId.includes('\u0000')) ? refused : undefined));
    const batches = new SubjectBatches(load, keyOf, 500, isRefusedValue);
    const names = Array.from({ length: 64 }, (_, i) => (i === 37 ? 'bad\u0000' : `person-${i}`));
    const settled = await Promise.allSettled(names.map((name, i) => batches.get(subject(i % 2 ? 'acme' : 'globex', name))));
    settled.forEach((outcome, i) =>
      expect(outcome).toEqual(i === 37 ? { status: 'rejected', reason: refused } : { status: 'fulfilled', value: `key of ${names[i]}` }),
    );
    // The whole batch, then two halves at each of six levels: 13 loads, not 64.
    expect(calls).toHaveLength(13);
  });

  it('fails the whole batch with one load when the failure is not a refused value (an outage is not split)', async () => {
    const { load, calls } = loader(() => outage);
    const batches = new SubjectBatches(load, keyOf, 500, isRefusedValue);
    const settled = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => batches.get(subject('acme', `person-${i}`))));
    expect(settled.every((outcome) => outcome.status === 'rejected' && outcome.reason === outage)).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('fails only the subject whose answer is an Error, and a subject the load left out', async () => {
    const broken = new Error('does not unwrap');
    const batches = new SubjectBatches(
      (subjects) =>
        Promise.resolve(
          new Map<string, string | Error>(
            subjects.filter((s) => s.subjectId !== 'missing').map((s) => [keyOf(s), s.subjectId === 'broken' ? broken : 'fine']),
          ),
        ),
      keyOf,
      500,
      isRefusedValue,
    );
    const [fine, failed, missing] = await Promise.allSettled([
      batches.get(subject('acme', 'fine')),
      batches.get(subject('acme', 'broken')),
      batches.get(subject('acme', 'missing')),
    ]);
    expect(fine).toEqual({ status: 'fulfilled', value: 'fine' });
    expect(failed).toEqual({ status: 'rejected', reason: broken });
    expect(missing.status).toBe('rejected');
  });
});
