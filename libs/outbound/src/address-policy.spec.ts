import { destinationUrlProblem, ForbiddenAddressError, guardedLookup, isForbiddenAddress, STRICT_POLICY } from './address-policy';

describe('where webhooks may go', () => {
  test.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.100.100.200',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fd00:ec2::254',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::10.0.0.1',
    'not an address',
  ])('%s is refused', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  test.each(['93.184.215.14', '8.8.8.8', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '::ffff:8.8.8.8'])(
    '%s is a public address',
    (address) => {
      expect(isForbiddenAddress(address)).toBe(false);
    },
  );

  test('a URL must be https, carry no credentials, and not name a forbidden address; an allowed host may use http', () => {
    expect(destinationUrlProblem('https://hooks.example.com/in', STRICT_POLICY)).toBeUndefined();
    expect(destinationUrlProblem('http://hooks.example.com/in', STRICT_POLICY)).toMatch(/https/);
    expect(destinationUrlProblem('https://[::ffff:127.0.0.1]/', STRICT_POLICY)).toMatch(/private, loopback/);
    expect(destinationUrlProblem('https://a:b@hooks.example.com/', STRICT_POLICY)).toMatch(/credentials/);
    expect(destinationUrlProblem('not a url', STRICT_POLICY)).toMatch(/absolute URL/);
    const local = { allowedHosts: new Set(['127.0.0.1']) };
    expect(destinationUrlProblem('http://127.0.0.1:9000/hook', local)).toBeUndefined();
    expect(destinationUrlProblem('http://127.0.0.2:9000/hook', local)).toMatch(/https/);
  });

  test('the lookup at connect time refuses a name that resolves to a loopback address, unless the host is allowed', async () => {
    const lookup = (policy: typeof STRICT_POLICY) =>
      new Promise<unknown>((resolve) => guardedLookup(policy)('localhost', {}, (error, address) => resolve(error ?? address)));
    const refused = await lookup(STRICT_POLICY);
    expect(refused).toBeInstanceOf(ForbiddenAddressError);
    expect((refused as Error).message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1)/);
    expect(await lookup({ allowedHosts: new Set(['localhost']) })).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});
