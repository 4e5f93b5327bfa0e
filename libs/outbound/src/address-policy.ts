import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

/**
 * Where webhooks may go. A destination URL comes from a tenant, so without a policy it is a way
 * into our network: the cloud metadata service, a database port, a neighbour's admin page. Every
 * address a host resolves to is checked when the socket connects, not only when the URL is saved,
 * so a name that resolves to a public address at creation and to 10.0.0.1 later (DNS rebinding)
 * is still refused.
 */
export interface AddressPolicy {
  /**
   * Hosts (as written in the URL, lower case) an operator trusts: http is allowed to them and
   * their addresses are not checked. Tests list 127.0.0.1 for their local receiver.
   */
  readonly allowedHosts: ReadonlySet<string>;
}

export const STRICT_POLICY: AddressPolicy = { allowedHosts: new Set() };

const forbidden = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT (also Alibaba's metadata at 100.100.100.200)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, and the AWS/GCP/Azure metadata service at 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local (AWS's IPv6 metadata is fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['2001:db8::', 32],
  ['100::', 64], // discard
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv6');
}

/** An IPv4 address hidden in an IPv6 one (::ffff:a.b.c.d, NAT64 64:ff9b::/96, the deprecated ::a.b.c.d). */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::|::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::|::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Whether a webhook may never connect to this IP address (private, loopback, link-local, metadata...). */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return forbidden.check(address, 'ipv4');
  if (family !== 6) return true;
  const inner = embeddedIpv4(address);
  if (inner !== undefined) return isIP(inner) !== 4 || forbidden.check(inner, 'ipv4');
  return forbidden.check(address, 'ipv6');
}

/** The host of a URL as Node's URL parser writes it, without IPv6 brackets. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/**
 * Why a destination URL is refused before any connection, or undefined. Literal addresses are
 * checked here; names are checked at connect time (see guardedLookup).
 */
export function destinationUrlProblem(text: string, policy: AddressPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute URL';
  }
  const host = bareHost(url);
  const trusted = policy.allowedHosts.has(host);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && trusted)) {
    return trusted ? 'must use http or https' : 'must use https (http only to hosts the operator allows)';
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (url.hash) return 'must not have a fragment';
  if (!trusted && isIP(host) !== 0 && isForbiddenAddress(host))
    return `must not point at a private, loopback, link-local or metadata address (${host})`;
  return undefined;
}

/** A connection refused by the address policy: never retried into success, so reported as such. */
export class ForbiddenAddressError extends Error {
  override readonly name = 'ForbiddenAddressError';
  readonly code = 'EFORBIDDENADDRESS';
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a private, loopback, link-local or metadata address`);
  }
}

/**
 * A `lookup` for the http(s) agent: resolves as usual, then refuses the connection when any
 * resolved address is forbidden. It runs for every connection, so the address checked is the one
 * connected to. Names the operator allows skip the check.
 */
export function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as LookupAddress[];
      if (!policy.allowedHosts.has(hostname.toLowerCase())) {
        const bad = list.find((entry) => isForbiddenAddress(entry.address));
        if (bad) return callback(new ForbiddenAddressError(hostname, bad.address), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
