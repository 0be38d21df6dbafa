import { X509Certificate, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { SimClock } from './clock';
import { entraError } from './errors';
import { json } from './http';
import type { SimResponse } from './http';
import { decodeJwt, signRs256, thumbprints, verifyJwtSignature } from './jwt';
import type { DecodedJwt } from './jwt';
import { GRAPH_AUDIT_PERMISSION, GRAPH_RESOURCES } from './graphAudit';
import type { ResolvedApp, ResolvedScenario } from './scenario';

/** Resource ids accepted for Management API tokens, besides the simulator's own origin. */
export const API_RESOURCES = [
  'https://manage.office.com',
  'https://manage-gcc.office.com',
  'https://manage.office365.us',
  'https://manage.protection.apps.mil',
  'https://manage.office.cn',
];

/** The audience a managed identity asks for when its token is used as a federated credential. */
export const TOKEN_EXCHANGE_AUDIENCES = [
  'api://AzureADTokenExchange',
  'api://AzureADTokenExchangeUSGov',
  'api://AzureADTokenExchangeChina',
];

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Clock skew Entra tolerates on assertion exp/nbf. */
const SKEW_SECONDS = 300;

export interface IssuedToken {
  tenantId: string;
  clientId: string;
  resource: string;
  permissions: string[];
  /** Simulator-clock expiry (ms). */
  expiresAt: number;
}

export type TokenCheck =
  | { ok: true; token: IssuedToken }
  | { ok: false; reason: 'missing' | 'unknown' | 'expired' | 'wrong-resource' };

export interface TokenServiceOptions {
  scenario: ResolvedScenario;
  clock: SimClock;
  baseUrl: () => string;
}

/**
 * Plays Entra ID for the simulator: token endpoints (v1 and v2), the OpenID metadata MSAL reads,
 * JWKS, and an App Service managed-identity endpoint whose tokens can be exchanged as federated
 * credentials. Access tokens are opaque and only mean something to this simulator.
 */
export class TokenService {
  private readonly tokens = new Map<string, IssuedToken>();
  private issuedSinceSweep = 0;
  private signingKey: { privateKey: KeyObject; publicKey: KeyObject; kid: string } | undefined;
  /** Value App Service puts in IDENTITY_HEADER; the MSI endpoint insists on it like the real one. */
  readonly identityHeader = randomBytes(16).toString('hex');

  constructor(private readonly opts: TokenServiceOptions) {}

  private get scenario(): ResolvedScenario {
    return this.opts.scenario;
  }

  private key(): { privateKey: KeyObject; publicKey: KeyObject; kid: string } {
    // Generated on first use: most runs never need a signing key, and RSA keygen costs ~100 ms.
    if (!this.signingKey) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      this.signingKey = { privateKey, publicKey, kid: randomBytes(12).toString('base64url') };
    }
    return this.signingKey;
  }

  private knownTenant(tenant: string): string | undefined {
    const t = tenant.toLowerCase();
    return this.scenario.tenants.some((x) => x.tenantId === t) ? t : undefined;
  }

  isApiResource(resource: string): boolean {
    const r = resource.replace(/\/+$/, '').toLowerCase();
    const own = this.opts.baseUrl().toLowerCase();
    const ownLocalhost = own.replace('//127.0.0.1:', '//localhost:');
    return r === own || r === ownLocalhost || API_RESOURCES.includes(r);
  }

  /** Microsoft Graph (any cloud's resource id): the audit log query API's tokens. */
  isGraphResource(resource: string): boolean {
    return GRAPH_RESOURCES.includes(resource.replace(/\/+$/, '').toLowerCase());
  }

  issue(
    tenantId: string,
    clientId: string,
    resource: string,
    permissions: string[],
  ): { token: string; expiresAt: number } {
    if (++this.issuedSinceSweep >= 1000) this.sweep();
    const token = `simtok_${randomBytes(24).toString('base64url')}`;
    const expiresAt = this.opts.clock.now().getTime() + this.scenario.tokenLifetimeSeconds * 1000;
    this.tokens.set(token, { tenantId, clientId, resource, permissions, expiresAt });
    return { token, expiresAt };
  }

  private sweep(): void {
    this.issuedSinceSweep = 0;
    const now = this.opts.clock.now().getTime();
    for (const [k, v] of this.tokens) if (v.expiresAt <= now) this.tokens.delete(k);
  }

  /** Checks an `Authorization` header for the Management API. */
  check(authorization: string | undefined): TokenCheck {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { ok: false, reason: 'missing' };
    const token = this.tokens.get(m[1] as string);
    if (!token) return { ok: false, reason: 'unknown' };
    if (token.expiresAt <= this.opts.clock.now().getTime()) return { ok: false, reason: 'expired' };
    if (!this.isApiResource(token.resource)) return { ok: false, reason: 'wrong-resource' };
    return { ok: true, token };
  }

  /** Checks an `Authorization` header for Microsoft Graph: a known, unexpired token for a Graph resource. */
  checkGraph(authorization: string | undefined): TokenCheck {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { ok: false, reason: 'missing' };
    const token = this.tokens.get(m[1] as string);
    if (!token) return { ok: false, reason: 'unknown' };
    if (token.expiresAt <= this.opts.clock.now().getTime()) return { ok: false, reason: 'expired' };
    if (!this.isGraphResource(token.resource)) return { ok: false, reason: 'wrong-resource' };
    return { ok: true, token };
  }

  private entra(status: number, error: string, code: number, text: string): SimResponse {
    return {
      ...json(status, entraError(error, code, text, this.opts.clock.now())),
      errorCode: `AADSTS${code}`,
    };
  }

  /** `POST /{tenant}/oauth2/v2.0/token` (version 'v2') or `/{tenant}/oauth2/token` ('v1'). */
  tokenEndpoint(tenantInPath: string, version: 'v1' | 'v2', body: string): SimResponse {
    const form = new URLSearchParams(body);
    const tenantId = this.knownTenant(tenantInPath);
    if (!tenantId) {
      return this.entra(
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenantInPath}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
    }
    const missing = (p: string): SimResponse =>
      this.entra(
        400,
        'invalid_request',
        900144,
        `The request body must contain the following parameter: '${p}'.`,
      );
    const grant = form.get('grant_type');
    if (!grant) return missing('grant_type');
    if (grant !== 'client_credentials') {
      return this.entra(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant}'.`,
      );
    }
    const clientId = form.get('client_id');
    if (!clientId) return missing('client_id');

    let resource: string;
    if (version === 'v2') {
      const scope = form.get('scope');
      if (!scope) return missing('scope');
      const scopes = scope
        .split(' ')
        .filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
      const only = scopes.length === 1 ? (scopes[0] as string) : undefined;
      if (!only || !only.endsWith('/.default')) {
        return this.entra(
          400,
          'invalid_scope',
          1002012,
          `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        );
      }
      resource = only.slice(0, -'/.default'.length);
    } else {
      const r = form.get('resource');
      if (!r) return missing('resource');
      resource = r;
    }

    const app = this.scenario.apps.find((a) => a.clientId.toLowerCase() === clientId.toLowerCase());
    if (!app || !app.tenants.includes(tenantId)) {
      return this.entra(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }

    const authFailure = this.authenticateClient(app, tenantId, form);
    if (authFailure) return authFailure;

    if (!this.isApiResource(resource) && !this.isGraphResource(resource)) {
      return this.entra(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }

    const { token, expiresAt } = this.issue(tenantId, app.clientId, resource, app.permissions);
    const lifetime = this.scenario.tokenLifetimeSeconds;
    const headers = { 'x-ms-request-id': randomUUID() };
    if (version === 'v2') {
      return json(
        200,
        { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token },
        headers,
      );
    }
    // v1 answers with numbers as strings, as in Microsoft's own samples.
    const nowS = Math.floor(this.opts.clock.now().getTime() / 1000);
    return json(
      200,
      {
        token_type: 'Bearer',
        expires_in: String(lifetime),
        ext_expires_in: String(lifetime),
        expires_on: String(Math.floor(expiresAt / 1000)),
        not_before: String(nowS),
        resource,
        access_token: token,
      },
      headers,
    );
  }

  /** Returns an error response when the client did not prove who it is. */
  private authenticateClient(
    app: ResolvedApp,
    tenantId: string,
    form: URLSearchParams,
  ): SimResponse | undefined {
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (!app.clientSecret || !safeEqual(secret, app.clientSecret)) {
        return this.entra(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
        );
      }
      return undefined;
    }
    if (assertion !== null) {
      if (form.get('client_assertion_type') !== JWT_BEARER) {
        return this.entra(
          400,
          'invalid_request',
          900144,
          `The request body must contain the following parameter: 'client_assertion_type' with value '${JWT_BEARER}'.`,
        );
      }
      return this.checkAssertion(app, tenantId, assertion);
    }
    return this.entra(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  }

  private checkAssertion(app: ResolvedApp, tenantId: string, assertion: string): SimResponse | undefined {
    const jwt = decodeJwt(assertion);
    if (!jwt) return this.entra(401, 'invalid_client', 50027, 'JWT token is invalid or malformed.');
    const p = jwt.payload;
    // Assertions are minted by clients on wall time, whatever the simulator clock says.
    const nowS = Date.now() / 1000;
    const exp = typeof p.exp === 'number' ? p.exp : NaN;
    const nbf = typeof p.nbf === 'number' ? p.nbf : -Infinity;
    if (!(exp + SKEW_SECONDS > nowS) || nbf - SKEW_SECONDS > nowS) {
      return this.entra(
        401,
        'invalid_client',
        700024,
        'Client assertion is not within its valid time range.',
      );
    }
    if (p.iss === app.clientId && p.sub === app.clientId)
      return this.checkCertificateAssertion(app, tenantId, jwt);
    return this.checkFederatedAssertion(app, jwt);
  }

  private checkCertificateAssertion(
    app: ResolvedApp,
    tenantId: string,
    jwt: DecodedJwt,
  ): SimResponse | undefined {
    if (!app.certificatePem) {
      return this.entra(
        401,
        'invalid_client',
        700027,
        'The certificate with identifier used to sign the client assertion is not registered on application.',
      );
    }
    const cert = new X509Certificate(app.certificatePem);
    const tp = thumbprints(cert.raw);
    const x5t = jwt.header.x5t;
    const x5t256 = jwt.header['x5t#S256'];
    if ((x5t !== undefined && x5t !== tp.sha1) || (x5t256 !== undefined && x5t256 !== tp.sha256)) {
      return this.entra(
        401,
        'invalid_client',
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${String(x5t256 ?? x5t)}']`,
      );
    }
    if (!verifyJwtSignature(jwt, cert.publicKey)) {
      return this.entra(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
    const aud = Array.isArray(jwt.payload.aud) ? (jwt.payload.aud as unknown[]) : [jwt.payload.aud];
    if (
      !aud.some((a) => typeof a === 'string' && this.acceptedAudiences(tenantId).includes(a.toLowerCase()))
    ) {
      return this.entra(
        401,
        'invalid_client',
        700212,
        `Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
      );
    }
    return undefined;
  }

  private acceptedAudiences(tenantId: string): string[] {
    const origins = [this.opts.baseUrl(), this.opts.baseUrl().replace('//127.0.0.1:', '//localhost:')];
    origins.push('https://login.microsoftonline.com');
    const out: string[] = [];
    for (const o of origins) {
      out.push(
        `${o}/${tenantId}/oauth2/v2.0/token`,
        `${o}/${tenantId}/oauth2/token`,
        `${o}/${tenantId}/v2.0`,
      );
    }
    return out.map((a) => a.toLowerCase());
  }

  private checkFederatedAssertion(app: ResolvedApp, jwt: DecodedJwt): SimResponse | undefined {
    const p = jwt.payload;
    const fic = app.federated;
    if (!fic) {
      return this.entra(
        401,
        'invalid_client',
        700211,
        `No matching federated identity record found for presented assertion issuer '${String(p.iss)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`,
      );
    }
    const k = this.key();
    if (jwt.header.kid !== k.kid || !verifyJwtSignature(jwt, k.publicKey)) {
      return this.entra(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
    const issuerTenant =
      this.scenario.managedIdentities.find((m) => m.principalId === fic.subject)?.tenantId ??
      this.scenario.tenants[0]?.tenantId;
    const issuer = fic.issuer ?? `${this.opts.baseUrl()}/${issuerTenant}/v2.0`;
    if (p.iss !== issuer) {
      return this.entra(
        401,
        'invalid_client',
        700211,
        `No matching federated identity record found for presented assertion issuer '${String(p.iss)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`,
      );
    }
    if (p.sub !== fic.subject) {
      return this.entra(
        401,
        'invalid_client',
        700213,
        `No matching federated identity record found for presented assertion subject '${String(p.sub)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`,
      );
    }
    const audience = fic.audience ?? 'api://AzureADTokenExchange';
    const aud = Array.isArray(p.aud) ? (p.aud as unknown[]) : [p.aud];
    if (!aud.includes(audience)) {
      return this.entra(
        401,
        'invalid_client',
        700212,
        `No matching federated identity record found for presented assertion audience '${String(p.aud)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`,
      );
    }
    return undefined;
  }

  /** What MSAL fetches for an authority before it talks to the token endpoint. */
  openIdConfiguration(tenantInPath: string, version: 'v1' | 'v2'): SimResponse {
    const t = tenantInPath.toLowerCase();
    const special = ['common', 'organizations', 'consumers'].includes(t);
    if (!special && !this.knownTenant(t)) {
      return this.entra(
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenantInPath}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const base = this.opts.baseUrl();
    const v = version === 'v2' ? '/v2.0' : '';
    const issuerTenant = special ? '{tenantid}' : t;
    return json(200, {
      token_endpoint: `${base}/${t}/oauth2${v}/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/${t}/discovery${v}/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: version === 'v2' ? `${base}/${issuerTenant}/v2.0` : `${base}/${issuerTenant}/`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      authorization_endpoint: `${base}/${t}/oauth2${v}/authorize`,
      device_authorization_endpoint: `${base}/${t}/oauth2${v}/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/${t}/oauth2${v}/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    });
  }

  /** Instance discovery, for clients that do not disable it. */
  instanceDiscovery(): SimResponse {
    const host = new URL(this.opts.baseUrl()).host;
    return json(200, {
      tenant_discovery_endpoint: `${this.opts.baseUrl()}/{tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }

  jwks(): SimResponse {
    const k = this.key();
    const jwk = k.publicKey.export({ format: 'jwk' });
    return json(200, { keys: [{ kty: 'RSA', use: 'sig', kid: k.kid, alg: 'RS256', n: jwk.n, e: jwk.e }] });
  }

  /**
   * App Service managed identity (API 2019-08-01): `GET IDENTITY_ENDPOINT?api-version&resource[&client_id|principal_id]`
   * with header `X-IDENTITY-HEADER`. Token-exchange audiences get a signed JWT that this simulator's token
   * endpoint accepts as a federated client assertion; API resources get an ordinary access token.
   */
  managedIdentity(query: URLSearchParams, identityHeader: string | undefined): SimResponse {
    const fail = (status: number, message: string): SimResponse => ({
      ...json(status, { statusCode: status, message, correlationId: randomUUID() }),
      errorCode: 'MSI',
    });
    if (identityHeader !== this.identityHeader)
      return fail(401, 'The identity header is missing or invalid.');
    if (query.get('api-version') !== '2019-08-01')
      return fail(400, 'The api-version is missing or not supported.');
    const resource = query.get('resource');
    if (!resource) return fail(400, "Required query parameter 'resource' is missing.");
    const byClient = query.get('client_id');
    const byPrincipal = query.get('principal_id') ?? query.get('object_id');
    const mi = this.scenario.managedIdentities.find((m) =>
      byClient ? m.clientId === byClient : byPrincipal ? m.principalId === byPrincipal : true,
    );
    if (!mi) {
      return fail(
        400,
        'No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.',
      );
    }
    const lifetime = this.scenario.tokenLifetimeSeconds;
    // MSAL turns expires_on into a lifetime against wall time, so it must be wall-based.
    const expiresOn = Math.floor(Date.now() / 1000) + lifetime;
    let accessToken: string;
    if (TOKEN_EXCHANGE_AUDIENCES.includes(resource.replace(/\/+$/, ''))) {
      const k = this.key();
      const nowS = Math.floor(Date.now() / 1000);
      accessToken = signRs256(
        { typ: 'JWT', kid: k.kid },
        {
          aud: resource.replace(/\/+$/, ''),
          iss: `${this.opts.baseUrl()}/${mi.tenantId}/v2.0`,
          sub: mi.principalId,
          oid: mi.principalId,
          azp: mi.clientId,
          tid: mi.tenantId,
          iat: nowS,
          nbf: nowS,
          exp: expiresOn,
          jti: randomUUID(),
        },
        k.privateKey,
      );
    } else if (this.isApiResource(resource)) {
      accessToken = this.issue(mi.tenantId, mi.clientId, resource, [
        'ActivityFeed.Read',
        'ActivityFeed.ReadDlp',
      ]).token;
    } else if (this.isGraphResource(resource)) {
      accessToken = this.issue(mi.tenantId, mi.clientId, resource, [GRAPH_AUDIT_PERMISSION]).token;
    } else {
      return fail(400, `Resource '${resource}' is not known to the simulator.`);
    }
    return json(200, {
      access_token: accessToken,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: mi.clientId,
    });
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
