// Parsers for the small value formats a stack file uses: durations, IPv4 addresses and
// CIDRs, cron expressions. Each returns a value or an error message a user can act on.
import { CronExpressionParser } from 'cron-parser';

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;

/** "1h30m", "500ms", "5s" → milliseconds; undefined when the text is not a duration. */
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

export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  network: number;
  prefix: number;
  /** Number of addresses in the block. */
  size: number;
}

/** "10.0.0.0/8" → network and prefix; a bare address is a /32. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const ip = parseIPv4(address);
  if (ip === undefined) return undefined;
  if (prefixText !== undefined && !/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (ip % size !== 0) return undefined;
  return { network: ip, prefix, size };
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** Why a CIDR is invalid, with the corrected network when only host bits are wrong. */
export function explainBadCidr(text: string): string {
  const [address, prefixText] = text.split('/');
  const ip = address === undefined ? undefined : parseIPv4(address);
  const prefix = Number(prefixText);
  if (ip !== undefined && Number.isInteger(prefix) && prefix >= 0 && prefix <= 32) {
    const size = 2 ** (32 - prefix);
    return `host bits are set: the network is ${formatIPv4(ip - (ip % size))}/${prefix}`;
  }
  return 'write an IPv4 network such as 10.0.0.0/8 or a single address such as 203.0.113.7';
}

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
