import { X509Certificate } from 'node:crypto';
import { AuditfeedError } from '../errors';

/** When the Management API client certificate stops working: one "Client certificate expiry" line per run. */
export interface CertificateExpiry {
  subject: string;
  /** SHA-1 thumbprint, as the app registration's Certificates & secrets page shows it. */
  thumbprint: string;
  notAfter: string;
  /** Whole days left (negative once expired), rounded down. */
  daysLeft: number;
}

/** The configured PEM has no readable certificate. */
export class CertificateReadError extends AuditfeedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'CertificateUnreadable', options);
  }
}

const DAY_MS = 86_400_000;
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** Reads the first certificate of a PEM that may also hold the private key (AUDITFEED_CLIENT_CERTIFICATE). */
export function certificateExpiry(pem: string, now: Date): CertificateExpiry {
  const block = CERTIFICATE_BLOCK.exec(pem)?.[0];
  if (!block) throw new CertificateReadError('The client certificate PEM holds no certificate.');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(block);
  } catch (e) {
    throw new CertificateReadError(`The client certificate cannot be parsed: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const notAfter = new Date(cert.validTo);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    thumbprint: cert.fingerprint.replace(/:/g, ''),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
  };
}
