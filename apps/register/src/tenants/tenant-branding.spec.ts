import { given } from '#cqrs/testing';
import { TenantBrandingChanged, TenantCreated, type TenantBranding } from '#contracts';
import { NO_BRANDING } from '#platform';
import { tenantDecider, type TenantCommand } from './tenant.decider';

const tenantId = '0193c2a0-0000-7000-8000-0000000000bb';
const now = new Date('2026-12-06T10:00:00.000Z');
const created = TenantCreated({
  tenantId,
  slug: 'acme',
  name: 'Acme',
  apiKeyHash: 'a'.repeat(64),
  writeKeyHash: 'w'.repeat(64),
  createdAt: '2026-12-06T09:00:00.000Z',
});
const acme: TenantBranding = {
  displayName: 'Acme Rewards',
  logoUrl: 'https://cdn.acme.example/logo.svg',
  primaryColor: '#0b6e4f',
  accentColor: '#F2A541',
  supportEmail: 'help@acme.example',
  termsUrl: 'https://acme.example/terms',
  privacyUrl: 'https://acme.example/privacy?lang=fr#data',
  defaultLocale: 'fr',
};
const set = (branding: Partial<TenantBranding>): TenantCommand => ({
  type: 'SetTenantBranding',
  branding: { ...NO_BRANDING, ...branding },
  now,
});
const changed = (branding: TenantBranding) => TenantBrandingChanged({ tenantId, branding, changedAt: now.toISOString() });

describe('tenant branding rules', () => {
  test('a tenant sets its whole branding: one event with every field', () => {
    given(tenantDecider, [created])
      .when(set(acme))
      .then([changed(acme)]);
  });

  test('setting a branding replaces the previous one: a field left out goes back to the default', () => {
    given(tenantDecider, [created, changed(acme)])
      .when(set({ displayName: 'Acme' }))
      .then([changed({ ...NO_BRANDING, displayName: 'Acme' })]);
  });

  test('the branding in force again changes nothing', () => {
    given(tenantDecider, [created, changed(acme)])
      .when(set(acme))
      .thenNothingHappens();
    given(tenantDecider, [created]).when(set({})).thenNothingHappens();
  });

  test('a tenant that does not exist has no branding to set', () => {
    given(tenantDecider, []).when(set(acme)).thenRejects({ kind: 'UnknownTenant' });
  });

  test('URLs are https only: javascript:, data:, http: and credentials are refused, each field named', () => {
    given(tenantDecider, [created])
      .when(
        set({
          logoUrl: 'javascript:alert(1)',
          termsUrl: 'http://acme.example/terms',
          privacyUrl: 'https://acme.example@evil.example/privacy',
        }),
      )
      .thenRejects({
        kind: 'InvalidBranding',
        problems: [
          { pointer: '/logoUrl', message: expect.stringContaining('https') },
          { pointer: '/termsUrl', message: expect.stringContaining('https') },
          { pointer: '/privacyUrl', message: expect.stringContaining('https') },
        ],
      });
    given(tenantDecider, [created])
      .when(set({ logoUrl: 'data:image/svg+xml,<svg onload=alert(1)>' }))
      .thenRejects({ kind: 'InvalidBranding', problems: [{ pointer: '/logoUrl', message: expect.any(String) }] });
  });

  test('a URL with a quote, a space, an angle bracket or past 2,048 characters is refused', () => {
    for (const logoUrl of [
      'https://a.example/"onerror="x',
      'https://a.example/ x',
      'https://a.example/<b>',
      `https://a.example/${'a'.repeat(2048)}`,
    ])
      given(tenantDecider, [created])
        .when(set({ logoUrl }))
        .thenRejects({ kind: 'InvalidBranding', problems: [{ pointer: '/logoUrl', message: expect.any(String) }] });
  });

  test('colours are #rrggbb and nothing else: names, short forms and CSS are refused', () => {
    for (const primaryColor of ['red', '#fff', '#0b6e4f;}', 'rgb(1,2,3)', '#0b6e4f</style>', '#gggggg'])
      given(tenantDecider, [created])
        .when(set({ primaryColor }))
        .thenRejects({ kind: 'InvalidBranding', problems: [{ pointer: '/primaryColor', message: 'must be a colour as #rrggbb' }] });
  });

  test('the support address is a plain e-mail, the name one bounded line, the language a supported one', () => {
    given(tenantDecider, [created])
      .when(set({ supportEmail: 'help"<x>@acme.example', displayName: 'Acme\nRewards', defaultLocale: 'de' }))
      .thenRejects({
        kind: 'InvalidBranding',
        problems: [
          { pointer: '/displayName', message: 'must not contain control characters' },
          { pointer: '/supportEmail', message: expect.stringContaining('e-mail') },
          { pointer: '/defaultLocale', message: 'must be a supported language (en, fr)' },
        ],
      });
    given(tenantDecider, [created])
      .when(set({ displayName: 'x'.repeat(201) }))
      .thenRejects({ kind: 'InvalidBranding', problems: [{ pointer: '/displayName', message: 'must be at most 200 characters' }] });
    given(tenantDecider, [created])
      .when(set({ displayName: '   ' }))
      .thenRejects({ kind: 'InvalidBranding', problems: [{ pointer: '/displayName', message: 'must not be blank' }] });
  });
});
