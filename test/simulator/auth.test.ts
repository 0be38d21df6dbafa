import { createPrivateKey, createSign, randomUUID } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import { createSelfSignedCertificate, startSimulator } from '../../scripts/simulator';
import type { SelfSignedCertificate, Simulator } from '../../scripts/simulator';
import { OTHER_TENANT, TENANT, api, errorCode, http, tokenFor } from './helpers';

const NOW = '2026-11-20T12:00:00Z';
const SECRET_APP = { clientId: 'a1b2c3d4-0000-4000-8000-000000000001', clientSecret: 'right~secret' };
const CERT_APP_ID = 'a1b2c3d4-0000-4000-8000-000000000002';
const ONE_TENANT_APP = {
  clientId: 'a1b2c3d4-0000-4000-8000-000000000003',
  clientSecret: 's3',
  tenants: [OTHER_TENANT],
};

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function postToken(
  sim: Simulator,
  fields: Record<string, string>,
  tenant = TENANT,
  version: 'v1' | 'v2' = 'v2',
) {
  return http.post<Record<string, unknown>>(sim.tokenEndpoint(tenant, version), form(fields), {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

function b64url(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

/** A client assertion as MSAL builds one: RS256 over header.payload, x5t of the certificate. */
function assertion(cert: SelfSignedCertificate, claims: Record<string, unknown>): string {
  const x5t = Buffer.from(new X509Certificate(cert.cert).fingerprint.replace(/:/g, ''), 'hex').toString(
    'base64url',
  );
  const input = `${b64url({ alg: 'RS256', typ: 'JWT', x5t })}.${b64url(claims)}`;
  const sig = createSign('RSA-SHA256').update(input).sign(createPrivateKey(cert.key)).toString('base64url');
  return `${input}.${sig}`;
}

describe('simulator: token endpoint and API authorization', () => {
  let sim: Simulator;
  let appCert: SelfSignedCertificate;

  beforeAll(async () => {
    appCert = await createSelfSignedCertificate({ commonName: 'auditfeed-test-app' });
    sim = await startSimulator({
      scenario: {
        seed: 'auth',
        tenants: [{ tenantId: TENANT }, { tenantId: OTHER_TENANT }],
        apps: [SECRET_APP, { clientId: CERT_APP_ID, certificatePem: appCert.cert }, ONE_TENANT_APP],
        contentTypes: ['Audit.Exchange'],
        activity: { start: '2026-11-20T00:00:00Z', end: '2026-11-20T06:00:00Z' },
        subscriptions: { preStarted: true },
        tokenLifetimeSeconds: 600,
      },
      clock: { start: NOW, frozen: true },
    });
  });

  afterAll(() => sim.stop());

  beforeEach(() => sim.clock.set(NOW));

  it('issues a v2 client-credentials token for the API scope, with a request id', async () => {
    const res = await postToken(sim, {
      grant_type: 'client_credentials',
      client_id: SECRET_APP.clientId,
      client_secret: SECRET_APP.clientSecret,
      scope: 'https://manage.office.com/.default',
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['request-id']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(res.data).toMatchObject({ token_type: 'Bearer', expires_in: 600, ext_expires_in: 600 });
    expect(typeof res.data.access_token).toBe('string');
    const list = await api(sim, res.data.access_token as string).get('subscriptions/list');
    expect(list.status).toBe(200);
  });

  it("accepts the simulator's own origin as scope and the v1 endpoint with resource=", async () => {
    const own = await postToken(sim, {
      grant_type: 'client_credentials',
      client_id: SECRET_APP.clientId,
      client_secret: SECRET_APP.clientSecret,
      scope: `${sim.baseUrl}/.default`,
    });
    expect(own.status).toBe(200);
    const v1 = await postToken(
      sim,
      {
        grant_type: 'client_credentials',
        client_id: SECRET_APP.clientId,
        client_secret: SECRET_APP.clientSecret,
        resource: 'https://manage.office.com',
      },
      TENANT,
      'v1',
    );
    expect(v1.status).toBe(200);
    // v1 spells numbers as strings, like Microsoft's sample response.
    expect(v1.data).toMatchObject({
      token_type: 'Bearer',
      expires_in: '600',
      resource: 'https://manage.office.com',
    });
    expect(Number(v1.data.expires_on)).toBe(Date.parse(NOW) / 1000 + 600);
  });

  it('rejects a wrong secret with the Entra error shape (AADSTS7000215, 401)', async () => {
    const res = await postToken(sim, {
      grant_type: 'client_credentials',
      client_id: SECRET_APP.clientId,
      client_secret: 'wrong',
      scope: 'https://manage.office.com/.default',
    });
    expect(res.status).toBe(401);
    expect(res.data.error).toBe('invalid_client');
    expect(String(res.data.error_description)).toMatch(/^AADSTS7000215: Invalid client secret provided\./);
    expect(res.data.error_codes).toEqual([7000215]);
    for (const k of ['timestamp', 'trace_id', 'correlation_id']) expect(typeof res.data[k]).toBe('string');
    expect(res.data.timestamp).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
  });

  it('rejects an unknown app, an app not consented in the tenant, and an unknown tenant', async () => {
    const unknown = await postToken(sim, {
      grant_type: 'client_credentials',
      client_id: randomUUID(),
      client_secret: 'x',
      scope: 'https://manage.office.com/.default',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.data.error).toBe('unauthorized_client');
    expect(String(unknown.data.error_description)).toMatch(/^AADSTS700016: Application with identifier/);

    const notConsented = await postToken(sim, {
      grant_type: 'client_credentials',
      client_id: ONE_TENANT_APP.clientId,
      client_secret: ONE_TENANT_APP.clientSecret,
      scope: 'https://manage.office.com/.default',
    });
    expect(notConsented.data.error_codes).toEqual([700016]);

    const badTenant = await postToken(
      sim,
      {
        grant_type: 'client_credentials',
        client_id: SECRET_APP.clientId,
        client_secret: 'x',
        scope: 'x/.default',
      },
      '00000000-1111-4222-8333-444444444444',
    );
    expect(badTenant.status).toBe(400);
    expect(badTenant.data.error_codes).toEqual([90002]);
  });

  it('requires a /.default scope on a known API resource', async () => {
    const base = {
      grant_type: 'client_credentials',
      client_id: SECRET_APP.clientId,
      client_secret: 'right~secret',
    };
    const noDefault = await postToken(sim, { ...base, scope: 'https://manage.office.com/ActivityFeed.Read' });
    expect(noDefault.data).toMatchObject({ error: 'invalid_scope', error_codes: [1002012] });
    // Graph is known too (the audit log query API, graphAudit.test.ts); Key Vault is not.
    const vault = await postToken(sim, { ...base, scope: 'https://vault.azure.net/.default' });
    expect(vault.data).toMatchObject({ error: 'invalid_resource', error_codes: [500011] });
    const noScope = await postToken(sim, base);
    expect(noScope.data).toMatchObject({ error: 'invalid_request', error_codes: [900144] });
  });

  it('accepts a certificate-signed client assertion and refuses a forged or expired one', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const claims = {
      aud: sim.tokenEndpoint(TENANT),
      iss: CERT_APP_ID,
      sub: CERT_APP_ID,
      jti: randomUUID(),
      nbf: nowS,
      exp: nowS + 600,
    };
    const fields = (jwt: string): Record<string, string> => ({
      grant_type: 'client_credentials',
      client_id: CERT_APP_ID,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: jwt,
      scope: 'https://manage.office.com/.default',
    });
    const ok = await postToken(sim, fields(assertion(appCert, claims)));
    expect(ok.status).toBe(200);

    const other = await createSelfSignedCertificate({ commonName: 'impostor' });
    const forged = await postToken(sim, fields(assertion(other, claims)));
    expect(forged.status).toBe(401);
    expect(forged.data.error_codes).toEqual([700027]);

    const expired = await postToken(sim, fields(assertion(appCert, { ...claims, exp: nowS - 3600 })));
    expect(expired.data.error_codes).toEqual([700024]);

    const wrongAud = await postToken(
      sim,
      fields(assertion(appCert, { ...claims, aud: 'https://example.com/token' })),
    );
    expect(wrongAud.status).toBe(401);
    expect(wrongAud.data.error_codes).toEqual([700212]);
  });

  it('answers 401 without a token, with an unknown token and with an expired token', async () => {
    const before = sim.truth.requests.length;
    const none = await http.get(`${sim.apiRoot(TENANT)}/subscriptions/list`);
    expect(none.status).toBe(401);
    expect(none.data).toEqual({ Message: 'Authorization has been denied for this request.' });
    expect(none.headers['request-id']).toBeDefined();

    const unknown = await api(sim, 'not-a-token').get('subscriptions/list');
    expect(unknown.status).toBe(401);

    const token = await tokenFor(sim);
    expect((await api(sim, token).get('subscriptions/list')).status).toBe(200);
    sim.clock.advance(599_000);
    expect((await api(sim, token).get('subscriptions/list')).status).toBe(200);
    sim.clock.advance(1_000); // lifetime is simulator time: 600 s after issue the token is dead
    expect((await api(sim, token).get('subscriptions/list')).status).toBe(401);

    const log = sim.truth.requests.slice(before).filter((r) => r.route === 'list');
    expect(log.map((r) => [r.hadAuthorization, r.status])).toEqual([
      [false, 401],
      [true, 401],
      [true, 200],
      [true, 200],
      [true, 401],
    ]);
    expect(JSON.stringify(sim.truth.requests)).not.toContain(token);
  });

  it('answers AF20010 (401) to a token of another tenant and AF20013 to a tenant that is not a GUID', async () => {
    const otherToken = await tokenFor(sim, OTHER_TENANT);
    const res = await api(sim, otherToken, TENANT).get('subscriptions/list');
    expect(res.status).toBe(401);
    expect(res.data).toEqual({
      error: {
        code: 'AF20010',
        message: `The tenant ID passed in the URL (${TENANT}) does not match the tenant ID passed in the access token (${OTHER_TENANT}).`,
      },
    });
    const notGuid = await api(sim, otherToken, 'contoso.onmicrosoft.com').get('subscriptions/list');
    expect(notGuid.status).toBe(400);
    expect(errorCode(notGuid)).toBe('AF20013');
  });

  it('serves OpenID metadata and JWKS for an authority at baseUrl', async () => {
    const res = await http.get<Record<string, string>>(
      `${sim.baseUrl}/${TENANT}/v2.0/.well-known/openid-configuration`,
    );
    expect(res.status).toBe(200);
    expect(res.data.token_endpoint).toBe(sim.tokenEndpoint(TENANT));
    expect(res.data.issuer).toBe(`${sim.baseUrl}/${TENANT}/v2.0`);
    const jwks = await http.get<{ keys: Array<{ kty: string; kid: string }> }>(String(res.data.jwks_uri));
    expect(jwks.data.keys[0]).toMatchObject({ kty: 'RSA' });
  });
});
