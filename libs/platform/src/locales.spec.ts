import fc from 'fast-check';
import { fillMessage, lookupLocale, negotiateLocale, SUPPORTED_LOCALES } from './locales';

describe('choosing the language of a page or mail', () => {
  test('ui_locales wins: the first of its space-separated tags that is supported', () => {
    expect(negotiateLocale('de-DE fr-CA en', 'en-US', 'en')).toBe('fr');
    expect(negotiateLocale('en fr', 'fr-FR', 'fr')).toBe('en');
  });

  test('a regional or extended tag falls back to its language (RFC 4647 lookup)', () => {
    expect(lookupLocale('fr-CA')).toBe('fr');
    expect(lookupLocale('FR-ca')).toBe('fr');
    expect(lookupLocale('fr-Latn-FR-x-private')).toBe('fr');
    expect(lookupLocale('de-CH')).toBeUndefined();
    expect(lookupLocale('f')).toBeUndefined();
  });

  test('without a supported ui_locales, Accept-Language decides by q-value, ties in the order sent', () => {
    expect(negotiateLocale(undefined, 'fr-FR,fr;q=0.9', 'en')).toBe('fr');
    expect(negotiateLocale('de', 'de;q=1, en;q=0.5, fr;q=0.8', 'en')).toBe('fr');
    expect(negotiateLocale('', 'fr;q=0.5, en;q=0.5', 'en')).toBe('fr');
    expect(negotiateLocale('', 'en-GB;q=0.7, fr-BE', 'en')).toBe('fr');
  });

  test('q=0 means never, and a malformed q-value counts as never too', () => {
    expect(negotiateLocale(undefined, 'fr;q=0, en;q=0.1', 'fr')).toBe('en');
    expect(negotiateLocale(undefined, 'fr;q=2, en;q=0.1', 'fr')).toBe('en');
    expect(negotiateLocale(undefined, 'fr;q=0', 'en')).toBe('en');
  });

  test('nothing supported asked for: the default', () => {
    expect(negotiateLocale(undefined, undefined, 'fr')).toBe('fr');
    expect(negotiateLocale('de ja', '*, es;q=0.8', 'en')).toBe('en');
    expect(negotiateLocale(['fr', 'en'], ['fr-FR'], 'en')).toBe('fr');
  });

  test('never throws on hostile strings, and always answers a supported language', () => {
    const tagish = fc.stringMatching(/^[A-Za-z0-9;=,.* \t-]{0,40}$/);
    const hostile = fc.oneof(fc.string({ maxLength: 3000 }), fc.string({ unit: 'binary', maxLength: 200 }), tagish, fc.constant(undefined));
    const anything = fc.oneof(hostile, fc.array(hostile, { maxLength: 3 }), fc.anything());
    fc.assert(
      fc.property(anything, anything, fc.constantFrom(...SUPPORTED_LOCALES), (ui, accept, fallback) => {
        expect(SUPPORTED_LOCALES).toContain(negotiateLocale(ui, accept, fallback));
      }),
      { numRuns: 2000 },
    );
  });

  test('a header of any length costs a bounded parse', () => {
    const huge = `${'xx-yy;q=0.5,'.repeat(200_000)}fr`;
    const started = performance.now();
    expect(negotiateLocale(undefined, huge, 'en')).toBe('en');
    expect(performance.now() - started).toBeLessThan(200);
  });

  test('messages fill their placeholders and leave unknown ones as written', () => {
    expect(fillMessage('{site}: confirm {what}', { site: 'Acme', what: 'it' })).toBe('Acme: confirm it');
    expect(fillMessage('{missing} {toString}', {})).toBe('{missing} {toString}');
  });
});
