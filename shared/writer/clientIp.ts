import { isIP } from 'node:net';

/**
 * The IP address in a client-IP field, without port or brackets: `1.2.3.4:5678` → `1.2.3.4`,
 * `[2001:db8::1]:443` → `2001:db8::1`, bare IPv6 as is (lower case), IPv4-mapped IPv6 (`::ffff:1.2.3.4`)
 * → `1.2.3.4` so one filter finds both spellings. Host names, empty strings and malformed values
 * (`10.9000.0.1`) give undefined; the original field keeps them.
 */
export function normalizeClientIp(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  let text = raw.trim();
  if (text === '') return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  if (bracketed) text = bracketed[1] ?? '';
  else if (v4WithPort) text = v4WithPort[1] ?? '';
  switch (isIP(text)) {
    case 4:
      return text;
    case 6: {
      const lower = text.toLowerCase();
      const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
      return mapped && isIP(mapped[1] ?? '') === 4 ? mapped[1] : lower;
    }
    default:
      return undefined;
  }
}
