import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import request from 'supertest';
import { eventually } from '#platform/testing';
import { basic } from '../../apps/pulse/test/pulse-harness';
import { callService, fourServicesEntry, type FourServices, type ServiceName } from './four-services';
import { createTenant } from './noisy-tenants';
import { STRONG_PASSWORD } from './register-harness';
import { issueServerKey } from './server-key';

/**
 * What the restore drills share (test/restore-drill*.spec.ts): people who reach all four services,
 * and the recovery step run as the recovery Job runs it.
 */

type Json = Record<string, unknown>;
const run = promisify(execFile);

export interface Person {
  readonly id: string;
  readonly email: string;
  readonly anonymousId: string;
  readonly orderId: string;
  /** Every personal value of theirs the services were given. */
  readonly needles: readonly string[];
}

/**
 * A tenant of the drill, and the calls its people make. `current` answers the services running
 * now: a drill stops and starts them between backup, restore and recovery.
 */
export async function drillTenant(current: () => FourServices, adminToken: string) {
  const tenant = await createTenant(current(), 'drill');
  const serverKey = await issueServerKey(
    { http: () => request(current().services.register.url), adminToken },
    current().services.pulse.url,
    tenant.slug,
  );
  const api = { authorization: `Bearer ${tenant.apiKey}` };
  const call = (service: ServiceName, method: string, path: string, headers: Json = {}, body?: unknown) =>
    callService(current(), service, method, path, headers, body);
  const balanceOf = async (userId: string) => (await call('rewards', 'GET', `/t/${tenant.slug}/members/${userId}`, api)).body.balance;

  /** Signs up, visits anonymously, is identified with traits, orders: register, login, pulse and rewards all hold them. */
  const arrive = async (name: string, total: number): Promise<Person> => {
    const tag = randomBytes(5).toString('hex');
    const email = `${name}.${tag}@example.com`;
    const profile = { givenName: `${name}${tag}`, familyName: `Drill${tag}`, phone: `+44207946${randomInt(1000, 10000)}` };
    const colour = `teal-${tag}`;
    const anonymousId = `anon-${tag}`;
    const orderId = `order-${tag}`;
    const signedUp = await call('register', 'POST', `/t/${tenant.slug}/users`, {}, { email, password: STRONG_PASSWORD, profile });
    expect(signedUp.status).toBe(201);
    const id = String(signedUp.body.id);
    const track = (kind: string, body: Json, key = serverKey) =>
      call('pulse', 'POST', `/v1/${kind}`, { authorization: basic(key) }, body).then((answer) => expect(answer.status).toBe(200));
    await track('page', { anonymousId, name: 'Home', properties: { colour } }, tenant.writeKey);
    await track('identify', { userId: id, anonymousId, traits: { email, phone: profile.phone, colour } });
    await track('track', { userId: id, event: 'Order Completed', properties: { order_id: orderId, total, currency: 'EUR' } });
    // The program awards 50 for signing up and a point per euro.
    await eventually(async () => Number(await balanceOf(id)) === 50 + total, 30_000);
    const { pool } = current();
    await eventually(async () => (await pool.query('SELECT 1 FROM login_credentials WHERE user_id = $1', [id])).rowCount === 1);
    await eventually(
      async () =>
        (await pool.query("SELECT 1 FROM pulse_identities WHERE kind = 'anonymousId' AND value = $1", [anonymousId])).rowCount === 1,
    );
    return { id, email, anonymousId, orderId, needles: [email, profile.givenName, profile.familyName, profile.phone, colour] };
  };

  return { tenant, api, call, balanceOf, arrive };
}

/** Register with RECOVER=only, as the recovery Job runs it, with `env` (stores, keys, ledger); answers the report it printed. */
export async function recoverErasures(env: Record<string, string>): Promise<Json> {
  const recovery = await run(process.execPath, [fourServicesEntry('register')], {
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', RECOVER: 'only', ...env },
  });
  return JSON.parse(recovery.stdout.trim().split('\n').at(-1)!) as Json;
}
