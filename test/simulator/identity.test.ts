/**
 * Experiment, kept as a test: real @azure/identity credentials (4.13.1) getting tokens from the HTTPS
 * simulator whose certificate is self-signed, without NODE_EXTRA_CA_CERTS or NODE_TLS_REJECT_UNAUTHORIZED.
 * What works: the credential option `tlsOptions: { ca: sim.caPem }` (core-rest-pipeline adds its
 * tlsPolicy), or an `additionalPolicies` entry that sets `request.tlsSettings = { ca }`. Both apply to
 * the OpenID metadata request and the token request MSAL sends through the credential's pipeline.
 */
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import axios from 'axios';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createSelfSignedCertificate, startSimulator } from '../../scripts/simulator';
import type { SelfSignedCertificate, Simulator } from '../../scripts/simulator';
import { TENANT } from './helpers';

const SECRET_APP = { clientId: '5d3c1b2a-0000-4000-8000-00000000000a', clientSecret: 'sim-secret-value' };
const CERT_APP_ID = '5d3c1b2a-0000-4000-8000-00000000000b';
const FEDERATED_APP_ID = '5d3c1b2a-0000-4000-8000-00000000000c';
const WRONG_SUBJECT_APP_ID = '5d3c1b2a-0000-4000-8000-00000000000d';
const MI = {
  clientId: '7e6f5a4b-0000-4000-8000-000000000001',
  principalId: '7e6f5a4b-0000-4000-8000-0000000000ff',
};

describe('simulator: @azure/identity against the HTTPS simulator (self-signed)', () => {
  let sim: Simulator;
  let appCert: SelfSignedCertificate;
  let options: { authorityHost: string; disableInstanceDiscovery: true; tlsOptions: { ca: string } };
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    appCert = await createSelfSignedCertificate({ commonName: 'auditfeed-cert-app' });
    sim = await startSimulator({
      tls: true,
      scenario: {
        seed: 'identity',
        tenants: [{ tenantId: TENANT }],
        contentTypes: ['Audit.Exchange'],
        subscriptions: { preStarted: true },
        apps: [
          SECRET_APP,
          { clientId: CERT_APP_ID, certificatePem: appCert.cert },
          { clientId: FEDERATED_APP_ID, federated: { subject: MI.principalId } },
          { clientId: WRONG_SUBJECT_APP_ID, federated: { subject: 'someone-else' } },
        ],
        managedIdentities: [MI],
      },
    });
    options = { authorityHost: sim.baseUrl, disableInstanceDiscovery: true, tlsOptions: { ca: sim.caPem! } };
  });

  afterAll(async () => {
    process.env = savedEnv;
    await sim.stop();
  });

  /** Proves a token is a real simulator token: the API accepts it. */
  async function apiAccepts(token: string): Promise<number> {
    const res = await axios.get(`${sim.apiRoot(TENANT)}/subscriptions/list`, {
      headers: { Authorization: `Bearer ${token}` },
      httpsAgent: new https.Agent({ ca: sim.caPem }),
      validateStatus: () => true,
    });
    return res.status;
  }

  it('runs without any process-wide TLS override', () => {
    expect(sim.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // This machine may point NODE_EXTRA_CA_CERTS at the system bundle; it cannot hold a cert made just now.
    const extra = process.env.NODE_EXTRA_CA_CERTS;
    if (extra) expect(readFileSync(extra, 'utf8')).not.toContain(sim.caPem!.split('\n')[1]);
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).not.toBe('0');
  });

  it('ClientSecretCredential fails on the self-signed certificate without a trust option', async () => {
    const cred = new ClientSecretCredential(TENANT, SECRET_APP.clientId, SECRET_APP.clientSecret, {
      authorityHost: sim.baseUrl,
      disableInstanceDiscovery: true,
    });
    const before = sim.truth.requests.length;
    // MSAL reports the failed metadata fetch as endpoints_resolution_error; underneath it is the TLS check.
    await expect(cred.getToken('https://manage.office.com/.default')).rejects.toThrow(
      /endpoints_resolution_error/,
    );
    expect(sim.truth.requests.length).toBe(before); // no request got past the handshake
    const direct = await axios
      .get(`${sim.baseUrl}/${TENANT}/v2.0/.well-known/openid-configuration`)
      .catch((e: unknown) => e);
    expect(direct).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('ClientSecretCredential works with tlsOptions: { ca: sim.caPem }', async () => {
    const cred = new ClientSecretCredential(TENANT, SECRET_APP.clientId, SECRET_APP.clientSecret, options);
    const token = await cred.getToken('https://manage.office.com/.default');
    expect(token.token).toMatch(/^simtok_/);
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3500_000);
    expect(await apiAccepts(token.token)).toBe(200);
    const routes = sim.truth.requests.map((r) => r.route);
    expect(routes).toEqual(expect.arrayContaining(['openid', 'token']));
  });

  it('ClientSecretCredential also works with an additionalPolicies entry setting request.tlsSettings', async () => {
    const trustSim: PipelinePolicy = {
      name: 'trustSimulatorCa',
      sendRequest: (request, next) => {
        request.tlsSettings = { ca: sim.caPem };
        return next(request);
      },
    };
    const cred = new ClientSecretCredential(TENANT, SECRET_APP.clientId, SECRET_APP.clientSecret, {
      authorityHost: sim.baseUrl,
      disableInstanceDiscovery: true,
      additionalPolicies: [{ policy: trustSim, position: 'perCall' }],
    });
    expect(await apiAccepts((await cred.getToken(`${sim.baseUrl}/.default`)).token)).toBe(200);
  });

  it('a wrong secret surfaces the AADSTS7000215 error through @azure/identity', async () => {
    const cred = new ClientSecretCredential(TENANT, SECRET_APP.clientId, 'wrong', options);
    await expect(cred.getToken('https://manage.office.com/.default')).rejects.toThrow(/AADSTS7000215/);
  });

  it('ClientCertificateCredential works: the simulator verifies the client assertion with the registered cert', async () => {
    const cred = new ClientCertificateCredential(
      TENANT,
      CERT_APP_ID,
      { certificate: `${appCert.key}\n${appCert.cert}` },
      options,
    );
    const token = await cred.getToken('https://manage.office.com/.default');
    expect(await apiAccepts(token.token)).toBe(200);

    const other = await createSelfSignedCertificate({ commonName: 'not-registered' });
    const impostor = new ClientCertificateCredential(
      TENANT,
      CERT_APP_ID,
      { certificate: `${other.key}\n${other.cert}` },
      options,
    );
    await expect(impostor.getToken('https://manage.office.com/.default')).rejects.toThrow(/AADSTS700027/);
  });

  it('ManagedIdentityCredential (App Service endpoint) + ClientAssertionCredential: the federated flow', async () => {
    Object.assign(process.env, sim.managedIdentity.env());
    const mi = new ManagedIdentityCredential({ clientId: MI.clientId, tlsOptions: { ca: sim.caPem! } });
    const assertion = async (): Promise<string> =>
      (await mi.getToken('api://AzureADTokenExchange/.default')).token;

    const cred = new ClientAssertionCredential(TENANT, FEDERATED_APP_ID, assertion, options);
    const token = await cred.getToken('https://manage.office.com/.default');
    expect(await apiAccepts(token.token)).toBe(200);
    const msi = sim.truth.requests.filter((r) => r.route === 'msi');
    expect(msi.length).toBeGreaterThan(0);
    expect(
      msi.every((r) => r.query.includes('api-version=2019-08-01') && r.query.includes(MI.clientId)),
    ).toBe(true);

    const mismatch = new ClientAssertionCredential(TENANT, WRONG_SUBJECT_APP_ID, assertion, options);
    await expect(mismatch.getToken('https://manage.office.com/.default')).rejects.toThrow(/AADSTS700213/);
  });
});
