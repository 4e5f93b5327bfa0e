import fc from 'fast-check';
import { returnToOf } from './return-to';
import { NO_BRANDING } from '#platform';

const tenant = { tenantId: '6a1f7c52-3e0b-5d4a-9c8e-2f1b0a9d8c7e', slug: 'acme', name: 'Acme', branding: NO_BRANDING };
const LOGIN = 'https://login.example';

describe('the way back into an authorization (return_to)', () => {
  test('only this tenant’s authorization endpoint on this host', () => {
    expect(returnToOf(tenant, '/t/acme/auth?client_id=app&scope=openid')).toBe('/t/acme/auth?client_id=app&scope=openid');
    expect(returnToOf(tenant, '/t/acme/auth')).toBe('/t/acme/auth');
    for (const elsewhere of [
      'https://evil.example/t/acme/auth?x=1',
      '//evil.example/t/acme/auth?x=1',
      '/t/acme/authorize?x=1',
      '/t/other/auth?x=1',
      '/t/acme/auth?x=1\r\nSet-Cookie: a=b',
      '/t/acme/auth?x=\\evil',
      '/t/acme/auth? x',
      ['/t/acme/auth'],
      undefined,
    ])
      expect(returnToOf(tenant, elsewhere)).toBeUndefined();
  });

  test('whatever is sent, what is kept resolves to this host’s authorization endpoint of this tenant', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'binary' }).map((rest) => `/t/acme/auth${rest}`),
      fc.string({ unit: 'binary' }).map((rest) => `/t/acme/auth?${rest}`),
      fc.webUrl().map((url) => `/t/acme/auth?next=${url}`),
    );
    fc.assert(
      fc.property(hostile, (value) => {
        const kept = returnToOf(tenant, value);
        if (kept === undefined) return;
        const resolved = new URL(kept, LOGIN);
        expect(resolved.origin).toBe(LOGIN);
        expect(resolved.pathname).toBe('/t/acme/auth');
        // eslint-disable-next-line no-control-regex -- the property itself: no control character is kept
        expect(kept).not.toMatch(/[\s\\\u0000-\u001f\u007f]/);
      }),
      { numRuns: 2000 },
    );
  });
});
