import net from 'node:net';

/** Host and address lists as configuration writes them, shared by the settings and the outbound policy. */

/** Adds `address/bits` (or one address) to a block list. */
export function addCidr(list: net.BlockList, cidr: string): void {
  const [address, bits] = cidr.split('/') as [string, string | undefined];
  const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
  list.addSubnet(address, bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits), family);
}

/** `[::1]` (as URLs write IPv6 hosts) → `::1`; names lower-cased. */
export function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/** Parses `TRELLIS_ALLOWED_OUTBOUND`-style entries; throws on one that is neither a CIDR nor a host. */
export function parseAllowances(entries: string[]): { addresses: net.BlockList; hosts: Set<string> } {
  const addresses = new net.BlockList();
  const hosts = new Set<string>();
  for (const raw of entries) {
    const entry = bareHost(raw.trim());
    if (!entry) continue;
    const [address, bits] = entry.split('/');
    if (net.isIP(address!)) {
      const max = net.isIP(address!) === 6 ? 128 : 32;
      const n = bits === undefined ? max : Number(bits);
      if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`"${raw}" has a bad prefix length`);
      addCidr(addresses, `${address}/${n}`);
    } else if (/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry)) {
      hosts.add(entry);
    } else {
      throw new Error(`"${raw}" is neither an address, a CIDR nor a host name`);
    }
  }
  return { addresses, hosts };
}
