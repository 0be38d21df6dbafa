import { generate } from 'selfsigned';

export interface SelfSignedCertificate {
  /** PKCS#8 private key, PEM. */
  key: string;
  /** X.509 certificate, PEM. */
  cert: string;
}

/**
 * A fresh self-signed certificate. The default one serves HTTPS for the simulator on loopback
 * (SANs localhost, 127.0.0.1, ::1); with a commonName it doubles as an app's client certificate.
 */
export async function createSelfSignedCertificate(
  opts: { commonName?: string; validDays?: number } = {},
): Promise<SelfSignedCertificate> {
  const notBeforeDate = new Date(Date.now() - 60 * 60 * 1000);
  const notAfterDate = new Date(notBeforeDate.getTime() + (opts.validDays ?? 30) * 24 * 60 * 60 * 1000);
  const pems = await generate([{ name: 'commonName', value: opts.commonName ?? 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
