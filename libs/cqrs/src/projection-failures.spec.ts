import { createServer, type AddressInfo } from 'node:net';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { PersonalDataIntegrityError } from '#personal-data';
import { createTestDatabase } from '../../../test/support/database';
import { UndecodableEventError } from './event-envelope';
import { NewerEventVersionError } from './event-types';
import { classifyFailure } from './projection-failures';

/** Errors as PostgreSQL, TypeORM and Node really raise them, sorted into what waits, what stalls and what parks. */
describe('which failures park an event', () => {
  let url: string;
  let client: Client;
  let dataSource: DataSource;
  const SECRET = 'a value from the event';

  beforeAll(async () => {
    url = await createTestDatabase('failures');
    client = new Client({ connectionString: url });
    await client.connect();
    await client.query('CREATE TABLE bounded (n int CONSTRAINT bounded_n_check CHECK (n < 10), at timestamptz)');
    dataSource = new DataSource({ type: 'postgres', url });
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await client.end();
  });

  const failureOf = (run: () => Promise<unknown>) =>
    run().then(
      () => {
        throw new Error('expected a failure');
      },
      (error: unknown) => classifyFailure(error),
    );
  const raised = (sqlstate: string) => () => client.query(`DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '${sqlstate}'; END $$`);

  test("the event's own: a constraint, a cast, a value out of range, a rule that throws; named without the value", async () => {
    const check = await failureOf(() => dataSource.query('INSERT INTO bounded (n) VALUES ($1)', [11]));
    expect(check).toEqual({
      class: 'permanent',
      kind: '23514',
      reason: 'SQLSTATE 23514 check_violation; constraint bounded_n_check; table bounded; in ExecConstraints',
    });
    const cast = await failureOf(() => client.query('INSERT INTO bounded (at) VALUES ($1)', [`${SECRET} +010000-01-01T00:00:00Z`]));
    expect(cast).toMatchObject({ class: 'permanent', kind: '22007' });
    expect(cast.reason).not.toContain(SECRET);
    expect(await failureOf(() => client.query('SELECT ($1::text)::int', ['1073741824000']))).toMatchObject({
      class: 'permanent',
      kind: '22003',
    });
    const thrown = classifyFailure(new TypeError(`cannot read ${SECRET}`));
    expect(thrown).toMatchObject({
      class: 'permanent',
      kind: 'TypeError',
      reason: expect.stringMatching(/^TypeError at projection-failures\.spec\.ts:\d+/),
    });
    expect(thrown.reason).not.toContain(SECRET);
    expect(classifyFailure(new UndecodableEventError('event metadata lacks tenantId'))).toEqual({
      class: 'permanent',
      kind: 'undecodable',
      reason: 'UndecodableEventError: event metadata lacks tenantId',
    });
    expect(classifyFailure(new PersonalDataIntegrityError('t', 'tag mismatch')).kind).toBe('undecodable');
  });

  test('what may pass: serialization failure, deadlock, cancelled statement, admin shutdown, no connection, a newer event version', async () => {
    for (const sqlstate of ['40001', '40P01', '57014', '57P01', '53300', '08006', '58030', '55P03']) {
      expect(await failureOf(raised(sqlstate))).toMatchObject({ class: 'transient', kind: sqlstate });
    }
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    await new Promise((resolve) => listener.close(resolve));
    const refused = await failureOf(() => new Client({ host: '127.0.0.1', port, connectionTimeoutMillis: 2000 }).connect());
    expect(refused).toMatchObject({ class: 'transient', kind: 'ECONNREFUSED' });
    expect(classifyFailure(new NewerEventVersionError('Noted', 3, 2)).class).toBe('transient');
  });

  test('not the event\u2019s fault: a missing table or column, an unsupported feature, an internal error', async () => {
    expect(await failureOf(() => client.query('SELECT * FROM no_such_table'))).toMatchObject({ class: 'systemic', kind: '42P01' });
    expect(await failureOf(() => dataSource.query('SELECT no_such_column FROM bounded'))).toMatchObject({
      class: 'systemic',
      kind: '42703',
    });
    for (const sqlstate of ['0A000', 'XX000'])
      expect(await failureOf(raised(sqlstate))).toMatchObject({ class: 'systemic', kind: sqlstate });
  });
});
