import { isIPv4, isIPv6 } from 'node:net';

/**
 * The network a request comes from, as request limits count it: an IPv4 address as it is, an
 * IPv6 address by its /64 (one subscriber usually holds a whole /64, so counting single addresses
 * would give each of them 2^64 tries), an IPv4-mapped IPv6 address as the IPv4 address it maps.
 * Which address that is (the socket's, or one from X-Forwarded-For) is TRUST_PROXY's decision,
 * taken by Fastify before it reaches here.
 */
export function clientNetwork(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(bare) || !isIPv6(bare)) return bare;
  return `${ipv6Groups(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, `::` expanded, leading zeros dropped. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  // A trailing dotted IPv4 part (::1.2.3.4) stands for two groups; the /64 never reaches it.
  const width = (groups: string[]) => groups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const missing = 8 - width(left) - width(right);
  return [...left, ...Array.from({ length: Math.max(0, missing) }, () => '0'), ...right].map((group) =>
    group.includes('.') ? group : group.replace(/^0+(?=.)/, '') || '0',
  );
}
