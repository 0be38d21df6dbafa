/**
 * Login, Management API and Microsoft Graph hosts per Microsoft 365 cloud (reference §A1; Graph:
 * docs/backfill-reference.md §1.6). The 21Vianet API host is not in Microsoft's API reference, only in a
 * Microsoft script: treat it as best known.
 */
export const CLOUDS = ['Enterprise', 'GCC', 'GCCHigh', 'DoD', '21Vianet'] as const;
export type Cloud = (typeof CLOUDS)[number];

export interface CloudEndpoints {
  /** Entra authority host for token requests. */
  loginHost: string;
  /** Management Activity API origin; the token scope is `${apiOrigin}/.default`. */
  apiOrigin: string;
  /** Audience of the managed-identity assertion in the federated-credential flow (reference §D). */
  tokenExchangeAudience: string;
  /** Microsoft Graph origin; the token scope is `${graphOrigin}/.default`. GCC uses the global Graph. */
  graphOrigin: string;
  /**
   * Whether Microsoft documents Graph's audit log query API here: only for the global service (every v1.0
   * page's national-cloud table); GCC runs on the global Graph but the table does not name it.
   */
  auditLogQuery: AuditLogQueryAvailability;
}

export type AuditLogQueryAvailability = 'documented' | 'unconfirmed' | 'unavailable';

export const CLOUD_ENDPOINTS: Record<Cloud, CloudEndpoints> = {
  Enterprise: {
    loginHost: 'https://login.microsoftonline.com',
    apiOrigin: 'https://manage.office.com',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
    graphOrigin: 'https://graph.microsoft.com',
    auditLogQuery: 'documented',
  },
  GCC: {
    loginHost: 'https://login.microsoftonline.com',
    apiOrigin: 'https://manage-gcc.office.com',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
    graphOrigin: 'https://graph.microsoft.com',
    auditLogQuery: 'unconfirmed',
  },
  GCCHigh: {
    loginHost: 'https://login.microsoftonline.us',
    apiOrigin: 'https://manage.office365.us',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
    graphOrigin: 'https://graph.microsoft.us',
    auditLogQuery: 'unavailable',
  },
  DoD: {
    loginHost: 'https://login.microsoftonline.us',
    apiOrigin: 'https://manage.protection.apps.mil',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
    graphOrigin: 'https://dod-graph.microsoft.us',
    auditLogQuery: 'unavailable',
  },
  '21Vianet': {
    loginHost: 'https://login.partner.microsoftonline.cn',
    apiOrigin: 'https://manage.office.cn',
    tokenExchangeAudience: 'api://AzureADTokenExchangeChina',
    graphOrigin: 'https://microsoftgraph.chinacloudapi.cn',
    auditLogQuery: 'unavailable',
  },
};

const ALIASES: Record<string, Cloud> = {
  enterprise: 'Enterprise',
  commercial: 'Enterprise',
  public: 'Enterprise',
  gcc: 'GCC',
  gcchigh: 'GCCHigh',
  'gcc-high': 'GCCHigh',
  'gcc high': 'GCCHigh',
  dod: 'DoD',
  '21vianet': '21Vianet',
  china: '21Vianet',
};

export function parseCloud(value: string): Cloud | undefined {
  return ALIASES[value.trim().toLowerCase()];
}
