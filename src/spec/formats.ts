// Parsers for the small value formats a stack file uses: durations, IP addresses and
// CIDRs, cron expressions. Each returns a value or an error message a user can act on; for a
// value the schema already validated, durationMs and the cron fire times read it as a number.
import { isIP, SocketAddress } from 'node:net';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;

/** "1h30m", "500ms", "5s", "1d" → milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  let rest = text.trim();
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const match = DURATION.exec(rest);
    if (!match) return undefined;
    total += Number(match[1]) * (DURATION_UNITS_MS[match[2]!] ?? 0);
    rest = rest.slice(match[0].length);
  }
  return total;
}

/**
 * A duration the stack file's schema already validated, in ms: one that does not parse here
 * is a bug, not user input.
 */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration: ${text}`);
  return ms;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i;

/** "512m", "1.5G", "256MiB", "64k" → bytes (binary units, as Docker reads them). */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
}

// Addresses are accepted only in their canonical form, because the tools that read them
// later do not all read them alike: nft and the kernel (inet_aton) take a leading 0 as
// octal, so `010.0.0.1` in a stack file became `ip saddr 8.0.0.1`, a firewall opening for
// another host. What is not canonical is refused with the form to write instead.

/** One octet of a canonical dotted quad: decimal, no leading zero. */
const OCTET = /^(0|[1-9]\d{0,2})$/;

/** A canonical dotted-decimal IPv4 address → its value; undefined for any other text. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** A dotted quad as a person means it, read in decimal whatever its zeros: `010.0.0.1` → 10.0.0.1. */
function decimalIPv4(text: string): string | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,4}$/.test(part))) return undefined;
  const octets = parts.map(Number);
  return octets.every((octet) => octet <= 255) ? octets.join('.') : undefined;
}

/**
 * What libc's inet_aton (and so nft, ping, a WireGuard endpoint) makes of `text`: 1 to 4
 * parts, each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes.
 */
export function inetAton(text: string): string | undefined {
  const parts = text.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]*$/.test(part)) value = parseInt(part, 8);
    else if (/^[1-9]\d*$/.test(part)) value = Number(part);
    else return undefined;
    values.push(value);
  }
  const last = values.pop()!;
  if (values.some((value) => value > 255) || last >= 2 ** (8 * (4 - values.length)))
    return undefined;
  return formatIPv4(
    values.reduce((sum, value, index) => sum + value * 2 ** (24 - 8 * index), 0) + last,
  );
}

/** Why `text` is not a canonical IPv4 address, and what to write. */
export function explainBadIPv4(text: string): string {
  const meant = decimalIPv4(text);
  const read = inetAton(text);
  if (meant !== undefined && read !== undefined && read !== meant)
    return `nft and the kernel read a leading 0 as octal, so ${text} is ${read} to them: write ${meant}`;
  if (meant !== undefined) return `leading zeros are not allowed: write ${meant}`;
  if (read !== undefined) return `libc reads ${text} as the address ${read}: write ${read}`;
  return 'write an IPv4 address in dotted decimal, such as 203.0.113.7';
}

export interface Cidr {
  network: number;
  prefix: number;
  /** Number of addresses in the block. */
  size: number;
}

/** A canonical "10.0.0.0/8" → network and prefix; a bare address is a /32. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const ip = parseIPv4(address);
  if (ip === undefined) return undefined;
  if (prefixText !== undefined && !/^(0|[1-9]\d?)$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (ip % size !== 0) return undefined;
  return { network: ip, prefix, size };
}

/**
 * `text` rewritten from its parsed value ("10.0.0.0/8", or a bare address for a bare
 * address), undefined unless it is a canonical network: what a ruleset may contain.
 */
export function canonicalCidr(text: string): string | undefined {
  const cidr = parseCidr(text);
  if (!cidr) return undefined;
  const address = formatIPv4(cidr.network);
  return text.includes('/') ? `${address}/${cidr.prefix}` : address;
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** Whether every address of `inner` lies in `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return outer.prefix <= inner.prefix && cidrContains(outer, inner.network);
}

/** Whether the two blocks share an address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}

/** Why a CIDR is invalid, with the network to write when one can be told. */
export function explainBadCidr(text: string): string {
  const [address = '', prefixText, extra] = text.split('/');
  const meant = decimalIPv4(address);
  const prefix =
    prefixText === undefined ? 32 : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (meant === undefined || extra !== undefined || !(prefix <= 32))
    return 'write an IPv4 network such as 10.0.0.0/8 or a single address such as 203.0.113.7';
  const ip = parseIPv4(meant)!;
  const size = 2 ** (32 - prefix);
  const network = formatIPv4(ip - (ip % size)) + (prefixText === undefined ? '' : `/${prefix}`);
  if (meant !== address) {
    const read = inetAton(address);
    const octal = read !== undefined && read !== meant;
    return `${octal ? `nft and the kernel read a leading 0 as octal, so ${address} is ${read} to them` : 'leading zeros are not allowed'}: write ${network}`;
  }
  if (prefixText !== undefined && prefixText !== String(prefix))
    return `leading zeros are not allowed: write ${network}`;
  return `host bits are set: the network is ${network}`;
}

/**
 * The one way an IP address is written: IPv4 in dotted decimal without leading zeros, IPv6
 * as RFC 5952 says (lowercase, zeros compressed), an IPv4-mapped IPv6 address as its IPv4
 * address. A dotted quad with leading zeros maps to the decimal a person meant. Undefined
 * when `text` is no IP address (zone ids such as `%eth0` included).
 */
export function canonicalIp(text: string): string | undefined {
  const meant = decimalIPv4(text);
  if (meant !== undefined) return meant;
  if (text.includes('%') || isIP(text) !== 6) return undefined;
  const address = new SocketAddress({ address: text, family: 'ipv6' }).address;
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/.exec(address) ? address.slice(7) : address;
}

/** An IP address (a node's WireGuard endpoint, …), accepted only in its canonical form. */
export const ipAddressSchema = z.string().superRefine((text, ctx) => {
  const canonical = canonicalIp(text);
  if (canonical === text) return;
  ctx.addIssue({
    code: 'custom',
    message:
      canonical === undefined
        ? `"${text}" is not an IP address`
        : `"${text}" is not written canonically: ${decimalIPv4(text) === undefined ? `write ${canonical}` : explainBadIPv4(text)}`,
  });
});

/** Undefined when valid, otherwise the parser's complaint. Accepts 5 or 6 fields. */
export function cronError(expression: string, timezone?: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    return `a cron expression has 5 fields (minute hour day month weekday), this one has ${fields.length}`;
  }
  try {
    CronExpressionParser.parse(expression, timezone ? { tz: timezone } : {});
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // cron-parser reports some malformed ranges ("-0") as NaN: say what a field may be.
    return message.includes('NaN')
      ? 'a field is not a number, range, step or list (e.g. 5, 1-5, */15, 1,15)'
      : message;
  }
}

/** The first time strictly after `after` (ms) that the valid `cron` fires in `timezone`. */
export function nextFireTime(cron: string, timezone: string, after: number): number {
  return CronExpressionParser.parse(cron, { currentDate: new Date(after), tz: timezone })
    .next()
    .getTime();
}

/** The last time strictly before `before` (ms) that the valid `cron` fired in `timezone`. */
export function previousFireTime(cron: string, timezone: string, before: number): number {
  return CronExpressionParser.parse(cron, { currentDate: new Date(before), tz: timezone })
    .prev()
    .getTime();
}

export function isValidTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** An address as it goes before `:port` in a URL or a dial string: IPv6 in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
