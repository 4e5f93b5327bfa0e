import fc from 'fast-check';
import { BOUNDS, textProblem } from '#platform';
import { usePulse, type Tenant } from './pulse-harness';
import { createDestination, onDestination, OUTBOUND_TEST_ENV, track } from './destinations-support';
import { WebhookReceiver } from './webhook-receiver';

/**
 * What a tenant may not make pulse call, and what it may not store as a destination: every refusal
 * is a 400 problem+json naming the field, and leaves no event behind.
 */
describe('destination input and SSRF protection', () => {
  const h = usePulse({ env: OUTBOUND_TEST_ENV });
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterAll(() => receiver.close());

  const destinationStreams = async (tenant: Tenant) => {
    const { rows } = await h.pulse.runtime.infrastructure.pool.query<{ n: string }>(
      `SELECT count(DISTINCT stream_name)::text AS n FROM es_events WHERE stream_name LIKE $1`,
      [`pulse.destination-${tenant.id}.%`],
    );
    return Number(rows[0]!.n);
  };

  const refusedAt = async (tenant: Tenant, body: object, pointer: string) => {
    const response = await createDestination(h.pulse, tenant, body);
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(response.body.errors.map((error: { pointer: string }) => error.pointer)).toContain(pointer);
    return response.body.errors as { pointer: string; message: string }[];
  };

  test('metadata, private and IPv4-mapped loopback addresses, and http to hosts not allowed, are refused at creation', async () => {
    const tenant = await h.pulse.createTenant();
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'https://169.254.169.254/',
      'https://10.0.0.1',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[::1]/',
      'https://[fd00:ec2::254]/',
      'https://100.100.100.200/',
      `http://localhost:${receiver.port}/hook`,
      'ftp://example.com/',
      'https://user:secret@example.com/',
    ]) {
      const errors = await refusedAt(tenant, { name: 'ssrf', url }, '/url');
      expect(errors.find((error) => error.pointer === '/url')!.message).not.toContain('secret');
    }
    expect(await destinationStreams(tenant)).toBe(0);
  });

  test('a name that resolves to a loopback address is refused when pulse connects (DNS is checked at connect time)', async () => {
    const tenant = await h.pulse.createTenant();
    // A name passes at creation (it may resolve elsewhere by the time we send); the lookup at connect time decides.
    const created = await createDestination(h.pulse, tenant, { name: 'rebinding', url: `https://localhost:${receiver.port}/hook` });
    expect(created.status).toBe(201);
    const tested = await onDestination(h.pulse, tenant, 'post', created.body.id, '/test').expect(200);
    expect(tested.body).toMatchObject({ delivered: false });
    expect(tested.body.error).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);

    // A real delivery is dead-lettered at once, with the reason, and nothing reached the receiver.
    await h.pulse
      .http()
      .post('/v1/batch')
      .set('authorization', `Basic ${Buffer.from(`${tenant.writeKey}:`).toString('base64')}`)
      .send({ batch: [track('Rebound')] })
      .expect(200);
    let dead: { lastError: string }[] = [];
    for (let tries = 0; dead.length === 0 && tries < 200; tries++) {
      dead = (await onDestination(h.pulse, tenant, 'get', created.body.id, '/dead-letters').expect(200)).body.items;
      if (dead.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(dead[0]!.lastError).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);
    expect(receiver.received).toEqual([]);
  });

  test('an unknown message type, a mapping that references nothing, control characters and lengths are named', async () => {
    const tenant = await h.pulse.createTenant();
    const url = receiver.url;
    await refusedAt(tenant, { name: 'x', url, filters: { types: ['track', 'purchase'] } }, '/filters/types/1');
    await refusedAt(
      tenant,
      { name: 'x', url, mappings: [{ rename: { from: 'payload.total', to: 'properties.total' } }] },
      '/mappings/0/rename/from',
    );
    await refusedAt(tenant, { name: 'x', url, mappings: [{ drop: 'properties.__proto__' }] }, '/mappings/0/drop');
    await refusedAt(
      tenant,
      { name: 'x', url, mappings: [{ rename: { from: 'properties.a', to: 'properties.a' } }] },
      '/mappings/0/rename/to',
    );
    await refusedAt(tenant, { name: 'bad\u0000name', url }, '/name');
    await refusedAt(tenant, { name: 'x', url: `${url}?${'a'.repeat(3000)}` }, '/url');
    await refusedAt(tenant, { name: 'x', url, filters: { events: ['Order\nCompleted'] } }, '/filters/events/0');
    await refusedAt(tenant, { name: 'x', url, batching: { maxMessages: 0 } }, '/batching/maxMessages');
    await refusedAt(tenant, { name: 'x', url, webhookSecret: 'mine' }, '/webhookSecret');
    await refusedAt(tenant, { url }, '/name');
    expect(await destinationStreams(tenant)).toBe(0);

    const created = await createDestination(h.pulse, tenant, { name: 'ok', url }).expect(201);
    const patched = await onDestination(h.pulse, tenant, 'patch', created.body.id).send({ url: 'https://10.1.2.3/' });
    expect(patched.status).toBe(400);
    expect(patched.body.errors[0].pointer).toBe('/url');
    expect((await onDestination(h.pulse, tenant, 'get', created.body.id).expect(200)).body.url).toBe(url);
  });

  test('hostile generated destination bodies (fast-check) answer 201 or a 4xx problem+json; what was refused stored nothing', async () => {
    const tenant = await h.pulse.createTenant();
    const hostileText = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('\u0000', 'a\u001bb', '\ud800', 'x'.repeat(5000), ''),
      fc.integer(),
      fc.constant(null),
    );
    // What a hostile tenant puts in a field instead: junk, or a value of the right shape that is not allowed.
    const hostile = fc.oneof(
      hostileText,
      fc.constantFrom(
        'http://169.254.169.254/',
        'https://10.0.0.1',
        'https://[::ffff:127.0.0.1]',
        'javascript:alert(1)',
        { types: ['bogus'] },
        { types: [], events: ['\u0000'] },
        [{ rename: { from: 'nowhere.a', to: 'properties.b' } }],
        [{ drop: 'constructor.prototype' }],
        [{ drop: 'a..b' }],
        [{}],
        { maxMessages: 0 },
        { maxMessages: 501 },
        { maxMessages: 10, maxWaitMs: -1 },
        { unknown: true },
      ),
    );
    // Valid six times in seven per field, so that whole bodies are valid about a third of the time.
    const field = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: hostile });
    const body = fc.record(
      {
        name: field(fc.constantFrom('warehouse', 'crm', 'Ünïcode ✓')),
        url: field(fc.constant(receiver.url)),
        enabled: field(fc.boolean()),
        ordered: field(fc.boolean()),
        filters: field(
          fc.record(
            {
              types: fc.subarray(['track', 'identify', 'page', 'screen', 'group', 'alias'], { minLength: 1 }),
              events: fc.array(
                fc
                  .string({ minLength: 1, maxLength: 30 })
                  .filter((name) => textProblem(name, 'identifier', BOUNDS.identifierLength) === undefined),
                {
                  minLength: 1,
                  maxLength: 3,
                },
              ),
            },
            { requiredKeys: [] },
          ),
        ),
        mappings: field(
          fc.array(fc.oneof(fc.constant({ rename: { from: 'properties.a', to: 'properties.b' } }), fc.constant({ drop: 'context.ip' })), {
            maxLength: 3,
          }),
        ),
        batching: field(fc.record({ maxMessages: fc.integer({ min: 1, max: 500 }), maxWaitMs: fc.integer({ min: 0, max: 60_000 }) })),
      },
      { requiredKeys: ['name', 'url'] },
    );
    let created = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(body, async (sent) => {
        const response = await fetch(`${h.pulse.url}/t/${tenant.slug}/destinations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(sent),
        });
        const answer = (await response.json()) as { id?: string; errors?: { pointer: string }[] };
        if (response.status === 201) {
          created++;
          // Deleted again, so the tenant stays under its limit of destinations.
          await onDestination(h.pulse, tenant, 'delete', answer.id!).expect(204);
          return;
        }
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
        expect(answer.errors!.length).toBeGreaterThan(0);
        refused++;
      }),
      { numRuns: Number(process.env.HOSTILE_RUNS ?? 150) },
    );
    expect(created).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(await destinationStreams(tenant)).toBe(created);
  });
});
