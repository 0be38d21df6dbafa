import { constants, createHash, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type JwtPart = Record<string, unknown>;

export interface DecodedJwt {
  header: JwtPart;
  payload: JwtPart;
  signingInput: string;
  signature: Buffer;
}

export function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null) {
      return undefined;
    }
    return {
      header: header as JwtPart,
      payload: payload as JwtPart,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2] as string, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

export function signRs256(header: JwtPart, payload: JwtPart, key: KeyObject): string {
  const input = `${b64url(JSON.stringify({ ...header, alg: 'RS256' }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
}

/** Verifies the algorithms Entra accepts for client assertions (MSAL uses PS256 when it has a SHA-256 thumbprint). */
export function verifyJwtSignature(jwt: DecodedJwt, key: KeyObject): boolean {
  const alg = typeof jwt.header.alg === 'string' ? jwt.header.alg : '';
  const data = Buffer.from(jwt.signingInput);
  const hash = ({ '256': 'sha256', '384': 'sha384', '512': 'sha512' } as Record<string, string>)[
    alg.slice(2)
  ];
  if (!hash) return false;
  try {
    if (alg === `RS${alg.slice(2)}`) return verify(hash, data, key, jwt.signature);
    if (alg === `PS${alg.slice(2)}`) {
      return verify(
        hash,
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        jwt.signature,
      );
    }
    if (alg === `ES${alg.slice(2)}`) {
      return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
    }
  } catch {
    return false;
  }
  return false;
}

/** x5t / x5t#S256 header values for a DER certificate. */
export function thumbprints(der: Buffer): { sha1: string; sha256: string } {
  return {
    sha1: b64url(createHash('sha1').update(der).digest()),
    sha256: b64url(createHash('sha256').update(der).digest()),
  };
}
