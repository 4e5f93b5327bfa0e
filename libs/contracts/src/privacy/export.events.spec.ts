import { randomBytes, randomUUID } from 'node:crypto';
import { exportPartToken, exportPartTokenValid, type ExportPart } from './export.events';

/** The links register signs to fetch one service's section: good for that section alone, until they expire. */
describe('export part links', () => {
  const key = randomBytes(32);
  const part: ExportPart = { tenantId: randomUUID(), exportId: randomUUID(), service: 'pulse' };
  const now = 1_800_000_000_000;

  test('a link opens its own section until it expires', () => {
    const token = exportPartToken(key, part, now + 60_000);
    expect(exportPartTokenValid(key, part, token, now)).toBe(true);
    expect(exportPartTokenValid(key, part, token, now + 60_000)).toBe(true);
    expect(exportPartTokenValid(key, part, token, now + 60_001)).toBe(false);
  });

  test('it opens no other section, export or tenant, and no other key made it', () => {
    const token = exportPartToken(key, part, now + 60_000);
    expect(exportPartTokenValid(key, { ...part, service: 'login' }, token, now)).toBe(false);
    expect(exportPartTokenValid(key, { ...part, exportId: randomUUID() }, token, now)).toBe(false);
    expect(exportPartTokenValid(key, { ...part, tenantId: randomUUID() }, token, now)).toBe(false);
    expect(exportPartTokenValid(key, part, exportPartToken(randomBytes(32), part, now + 60_000), now)).toBe(false);
  });

  test('a link whose expiry was changed, or that is not a link, opens nothing', () => {
    const [version, , mac] = exportPartToken(key, part, now + 60_000).split('.');
    expect(exportPartTokenValid(key, part, `${version}.${now + 3_600_000}.${mac}`, now)).toBe(false);
    for (const junk of ['', 'v1', 'v1..', `v1.${now}.`, `v2.${now + 1}.${mac}`, `v1.${now + 1}.${mac}x`, `v1.1e20.${mac}`])
      expect(exportPartTokenValid(key, part, junk, now)).toBe(false);
  });
});
