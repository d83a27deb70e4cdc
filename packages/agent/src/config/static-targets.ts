// Checks and normalises `targets.static`, the list of targets given by hand. Each entry is checked
// field by field so an error names the entry and the field (`targets.static[2].ip`).
import { isIP } from 'node:net';
import { type FormatFailure, isMapping } from './formats.ts';
import type { StaticTarget } from './types.ts';

const FIELDS = ['ip', 'interface', 'name', 'namespace', 'service', 'labels'] as const;
const ENTRY_EXAMPLE = 'a mapping such as {ip: "198.18.0.2", interface: "veth1", name: "web"}';
// Linux interface names: 1 to 15 bytes, no "/", no whitespace, not "." or "..".
const IFNAME = /^(?!\.{1,2}$)[^\s/:]{1,15}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkEntry(entry: unknown, i: number): FormatFailure | undefined {
  const at = (field?: string) => (field === undefined ? `[${i}]` : `[${i}].${field}`);
  if (!isMapping(entry)) return { at: at(), value: entry, allowed: ENTRY_EXAMPLE };
  for (const key of Object.keys(entry)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      return { at: at(key), value: entry[key], allowed: `the fields ${FIELDS.join(', ')}` };
    }
  }
  const { ip, interface: iface, name, namespace, service, labels } = entry;
  if (typeof ip !== 'string' || isIP(ip) === 0) {
    return { at: at('ip'), value: ip, allowed: 'an IPv4 or IPv6 address, e.g. "198.18.0.2" or "2001:2::2"' };
  }
  if (
    iface !== undefined &&
    !(typeof iface === 'string' && IFNAME.test(iface)) &&
    !(Number.isInteger(iface) && (iface as number) >= 1)
  ) {
    return {
      at: at('interface'),
      value: iface,
      allowed: 'an interface name of 1 to 15 characters (e.g. "veth1") or an interface index of 1 or more',
    };
  }
  if (name !== undefined && (typeof name !== 'string' || name === '' || name.length > 253)) {
    return { at: at('name'), value: name, allowed: 'a non-empty string of at most 253 characters' };
  }
  if (namespace !== undefined && (typeof namespace !== 'string' || !DNS_LABEL.test(namespace))) {
    return {
      at: at('namespace'),
      value: namespace,
      allowed: 'a namespace name (lowercase letters, digits and "-", at most 63 characters)',
    };
  }
  if (service !== undefined && (typeof service !== 'string' || service === '')) {
    return { at: at('service'), value: service, allowed: 'a non-empty string' };
  }
  if (labels !== undefined) {
    if (!isMapping(labels))
      return { at: at('labels'), value: labels, allowed: 'a mapping of strings to strings' };
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v !== 'string') return { at: at(`labels.${k}`), value: v, allowed: 'a string' };
    }
  }
  return undefined;
}

/** Every problem of the list, in order; duplicates of an IP or a name are problems too. */
export function checkStaticTargets(list: readonly unknown[]): FormatFailure[] {
  const failures: FormatFailure[] = [];
  const ips = new Map<string, number>();
  const names = new Map<string, number>();
  for (const [i, entry] of list.entries()) {
    const failure = checkEntry(entry, i);
    if (failure) {
      failures.push(failure);
      continue;
    }
    const e = entry as { ip: string; name?: string };
    const firstIp = ips.get(e.ip);
    if (firstIp !== undefined) {
      failures.push({
        at: `[${i}].ip`,
        value: e.ip,
        allowed: `each IP once (also in targets.static[${firstIp}])`,
      });
    } else ips.set(e.ip, i);
    const name = e.name ?? e.ip;
    const firstName = names.get(name);
    if (firstName !== undefined) {
      failures.push({
        at: `[${i}].name`,
        value: name,
        allowed: `a name used once (also in targets.static[${firstName}]; the name defaults to the IP)`,
      });
    } else names.set(name, i);
  }
  return failures;
}

/** The checked list with defaults filled in: `name` is the IP when not given. */
export function normaliseStaticTargets(list: readonly unknown[]): StaticTarget[] {
  return list.map((raw) => {
    const e = raw as Omit<StaticTarget, 'name'> & { name?: string };
    return { ...e, name: e.name ?? e.ip };
  });
}
