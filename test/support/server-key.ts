import type request from 'supertest';
import { basic, eventually } from '../../apps/pulse/test/pulse-harness';

/**
 * A server source's key (`tss_…`) for the tenant, issued through register's admin API, once pulse
 * takes it. Server sources are what rewards trusts to earn: a secret on the tenant's own servers,
 * unlike the write key every web page carries.
 */
export async function issueServerKey(
  register: { http(): ReturnType<typeof request>; readonly adminToken: string },
  pulseUrl: string,
  slug: string,
): Promise<string> {
  const issued = await register
    .http()
    .post(`/admin/tenants/${slug}/keys`)
    .set('authorization', `Bearer ${register.adminToken}`)
    .send({ kind: 'server', label: 'backend' });
  if (issued.status !== 201) throw new Error(`server key not issued: ${issued.status} ${JSON.stringify(issued.body)}`);
  const key = (issued.body as { key: string }).key;
  // Pulse learns keys from register's events; until it has this one, the key is unknown (401). An
  // empty message is refused for its missing fields (400) once the key is known, and stores nothing.
  await eventually(async () => {
    const probe = await fetch(`${pulseUrl}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json' },
      body: '{}',
    });
    return probe.status === 400;
  });
  return key;
}
