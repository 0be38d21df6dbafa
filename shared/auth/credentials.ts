import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
  type TokenCredentialOptions,
} from '@azure/identity';
import { readFile } from 'node:fs/promises';
import type { AuthConfig, EndpointsConfig } from '../config';
import { certificateExpiry, type CertificateExpiry } from './certificateExpiry';

/**
 * Builds the Management API credential for each tenant from the validated auth settings.
 * One managed identity serves every tenant; each tenant gets its own confidential-client credential,
 * because the token must be issued by that tenant. The credential is the app's, not the API's: the
 * backfill's Graph client (shared/graphAudit/client.ts) asks the same one for the Graph scope.
 */
export class ManagementCredentials {
  private readonly byTenant = new Map<string, TokenCredential>();
  private managedIdentity: TokenCredential | undefined;

  /** `clientOptions`: more @azure/identity options for every credential (a proxy, an HTTP client). */
  constructor(
    private readonly auth: AuthConfig,
    private readonly endpoints: EndpointsConfig,
    private readonly clientOptions: TokenCredentialOptions = {},
  ) {}

  forTenant(tenantId: string): TokenCredential {
    let credential = this.byTenant.get(tenantId);
    if (!credential) {
      credential = this.create(tenantId);
      this.byTenant.set(tenantId, credential);
    }
    return credential;
  }

  /**
   * When the client certificate expires (auth mode certificate); undefined in the other modes, where the
   * code cannot see an expiry (a secret's is only in Entra ID). Read each call: Key Vault may rotate it.
   */
  async certificateExpiry(now: Date): Promise<CertificateExpiry | undefined> {
    if (this.auth.mode !== 'certificate') return undefined;
    const source = this.auth.certificate;
    const pem = 'pem' in source ? source.pem.reveal() : await readFile(source.path, 'utf8');
    return certificateExpiry(pem, now);
  }

  private create(tenantId: string): TokenCredential {
    const options = {
      ...this.clientOptions,
      authorityHost: this.endpoints.loginHost,
      // Instance discovery asks the public cloud about the authority; the simulator is not known there.
      disableInstanceDiscovery: this.endpoints.overridden,
      ...(this.endpoints.tlsCaPem !== undefined ? { tlsOptions: { ca: this.endpoints.tlsCaPem } } : {}),
    };
    const auth = this.auth;
    switch (auth.mode) {
      case 'secret':
        return new ClientSecretCredential(tenantId, auth.clientId, auth.clientSecret.reveal(), options);
      case 'certificate':
        return 'pem' in auth.certificate
          ? new ClientCertificateCredential(
              tenantId,
              auth.clientId,
              { certificate: auth.certificate.pem.reveal() },
              options,
            )
          : new ClientCertificateCredential(
              tenantId,
              auth.clientId,
              { certificatePath: auth.certificate.path },
              options,
            );
      case 'federated': {
        const mi = (this.managedIdentity ??= new ManagedIdentityCredential({
          ...this.clientOptions,
          clientId: auth.managedIdentityClientId,
        }));
        const audience = `${this.endpoints.tokenExchangeAudience}/.default`;
        return new ClientAssertionCredential(
          tenantId,
          auth.clientId,
          async () => {
            const token = await mi.getToken(audience);
            if (!token)
              throw new Error(
                'The managed identity returned no token for the federated credential exchange.',
              );
            return token.token;
          },
          options,
        );
      }
    }
  }
}
