import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSignedCertificate } from '../../scripts/simulator';
import { CertificateReadError, certificateExpiry } from '../../shared/auth/certificateExpiry';
import { loadConfig } from '../../shared/config';
import { reportCertificateExpiry } from '../../shared/handlers/collect';
import { silentLogger } from '../../shared/logging';
import { CollectorRuntime } from '../../shared/runtime';
import { TraceRecorder } from '../helpers/traces';

describe('certificateExpiry', () => {
  it('reads notAfter and whole days left from a PEM holding the key first, then the certificate', async () => {
    const { key, cert } = await createSelfSignedCertificate({ commonName: 'auditfeed-test', validDays: 40 });
    const first = certificateExpiry(`${key}\n${cert}`, new Date());
    const notAfter = Date.parse(first.notAfter);
    // Counted from the clock it is given, not the wall clock.
    expect(certificateExpiry(cert, new Date(notAfter - 10 * 86_400_000 - 1)).daysLeft).toBe(10);
    expect(certificateExpiry(cert, new Date(notAfter + 1)).daysLeft).toBe(-1);
    expect(first.subject).toBe('CN=auditfeed-test');
    expect(first.thumbprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it('says so when there is no readable certificate', () => {
    expect(() =>
      certificateExpiry('-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----', new Date()),
    ).toThrow(CertificateReadError);
    expect(() =>
      certificateExpiry(
        '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----',
        new Date(),
      ),
    ).toThrow(/cannot be parsed/);
  });
});

describe('the per-run certificate line', () => {
  const env = {
    AUDITFEED_TENANT_IDS: '5e2a9c41-7d3b-4f68-a0c1-9b8e7d6c5f4a',
    AUDITFEED_CLIENT_ID: '0a4c2e61-3b5d-4f70-8192-a3b4c5d6e7f8',
    AUDITFEED_AUTH_MODE: 'certificate',
    AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
    AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:1',
    AUDITFEED_COSMOS__accountKey: 'bm90LXVzZWQ=',
  };

  it('is written with the days left, and only a warning (never a failed run) when the file cannot be read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'auditfeed-cert-'));
    const { key, cert } = await createSelfSignedCertificate({ commonName: 'auditfeed-line', validDays: 20 });
    writeFileSync(path.join(dir, 'client.pem'), `${key}\n${cert}`);
    const traces = new TraceRecorder(() => new Date());
    const run = async (file: string): Promise<void> => {
      const runtime = new CollectorRuntime(
        loadConfig({ ...env, AUDITFEED_CLIENT_CERTIFICATE_PATH: path.join(dir, file) }),
        silentLogger,
      );
      await reportCertificateExpiry(runtime, traces.logger(), new Date());
      runtime.close();
    };
    await run('client.pem');
    await run('missing.pem');
    const [line, warning] = traces.take();
    expect(line!.severityLevel).toBe(2); // under 30 days: a warning
    expect(JSON.parse(line!.message.slice(line!.message.indexOf('{')))).toMatchObject({ daysLeft: 19 });
    expect(line!.message.startsWith('Client certificate expiry {')).toBe(true);
    expect(warning!.message).toMatch(/^Could not read the client certificate expiry .*ENOENT/);
  });
});
