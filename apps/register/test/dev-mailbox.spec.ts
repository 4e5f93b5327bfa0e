import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { isLoopback } from '../src/mail/dev-mailbox.http';

/** This machine's first address that is not loopback: a request to it arrives from a non-loopback address. */
function externalAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((candidate) => candidate && candidate.family === 'IPv4' && !candidate.internal)?.address;
  if (!address) throw new Error('this machine has no non-loopback IPv4 address: the remote-caller case cannot be tried');
  return address;
}

/**
 * The dev mailbox holds every verification and reset link register sent. It answers only this
 * machine, only with the admin token, and never in production; any other caller gets the 404 of
 * a route that does not exist.
 */
describe('/dev/mailbox', () => {
  let register: RegisterHarness;
  let behindProxy: RegisterHarness;
  beforeAll(async () => {
    register = await startRegister();
    behindProxy = await startRegister({ TRUST_PROXY: 'loopback' });
    const tenant = await register.createTenant();
    await register.signUp(tenant.slug, 'mailed@example.com');
    await register.settled();
  });
  afterAll(async () => {
    await register?.close();
    await behindProxy?.close();
  });

  const admin = (harness: RegisterHarness) => `Bearer ${harness.adminToken}`;

  async function expectMissingRoute(response: { status: number; body: Record<string, unknown> }) {
    expect(response.status).toBe(404);
    const missing = await register.http().get('/dev/no-such-route');
    expect({ type: response.body.type, title: response.body.title }).toEqual({ type: missing.body.type, title: missing.body.title });
    expect(response.body).not.toHaveProperty('messages');
  }

  test('answers this machine with the admin token', async () => {
    const response = await register.http().get('/dev/mailbox').query({ to: 'mailed@example.com' }).set('authorization', admin(register));
    expect(response.status).toBe(200);
    expect(response.body.messages).toEqual([expect.objectContaining({ to: 'mailed@example.com', subject: expect.any(String) })]);
  });

  test('is a missing route without the admin token, or with a wrong one', async () => {
    await expectMissingRoute(await register.http().get('/dev/mailbox'));
    await expectMissingRoute(
      await register
        .http()
        .get('/dev/mailbox')
        .set('authorization', `Bearer ${'x'.repeat(40)}`),
    );
    await expectMissingRoute(await register.http().get('/dev/mailbox').set('authorization', admin(behindProxy)));
  });

  test('is a missing route for a caller on another machine, admin token or not', async () => {
    await register.app.listen(0, '0.0.0.0');
    const { port } = register.app.getHttpServer().address() as AddressInfo;
    const response = await fetch(`http://${externalAddress()}:${port}/dev/mailbox`, { headers: { authorization: admin(register) } });
    await expectMissingRoute({ status: response.status, body: (await response.json()) as Record<string, unknown> });
    // The same listener still answers this machine.
    const local = await fetch(`http://127.0.0.1:${port}/dev/mailbox`, { headers: { authorization: admin(register) } });
    expect(local.status).toBe(200);
  });

  test('is a missing route when a proxy on this machine forwards a remote caller', async () => {
    const forwarded = await behindProxy
      .http()
      .get('/dev/mailbox')
      .set('authorization', admin(behindProxy))
      .set('x-forwarded-for', '203.0.113.5');
    await expectMissingRoute(forwarded);
    const local = await behindProxy.http().get('/dev/mailbox').set('authorization', admin(behindProxy)).set('x-forwarded-for', '127.0.0.1');
    expect(local.status).toBe(200);
  });

  test('does not exist in production, even for this machine with the admin token', async () => {
    // (Production takes no test tokens: with LOGIN_PUBLIC_URL set the harness gives it none.)
    const production = await startRegister({
      NODE_ENV: 'production',
      SMTP_URL: 'smtp://127.0.0.1:1',
      LOGIN_PUBLIC_URL: 'http://127.0.0.1:1',
    });
    try {
      const response = await production.http().get('/dev/mailbox').set('authorization', admin(production));
      expect(response.status).toBe(404);
      expect(response.body.type).toBe('https://tessera.dev/problems/route-not-found');
    } finally {
      await production.close();
    }
  });

  test('loopback means 127.0.0.0/8 and ::1, written plain or mapped', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address)).toBe(true);
    for (const address of ['192.0.2.2', '::ffff:192.0.2.2', 'fd00::2', '::', '0.0.0.0', '1127.0.0.1', undefined]) {
      expect(isLoopback(address)).toBe(false);
    }
  });
});
