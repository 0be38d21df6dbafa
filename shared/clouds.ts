/**
 * Login and Management API hosts per Microsoft 365 cloud (reference §A1).
 * The 21Vianet API host is not in Microsoft's API reference, only in a Microsoft script: treat it as best known.
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
}

export const CLOUD_ENDPOINTS: Record<Cloud, CloudEndpoints> = {
  Enterprise: {
    loginHost: 'https://login.microsoftonline.com',
    apiOrigin: 'https://manage.office.com',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
  },
  GCC: {
    loginHost: 'https://login.microsoftonline.com',
    apiOrigin: 'https://manage-gcc.office.com',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
  },
  GCCHigh: {
    loginHost: 'https://login.microsoftonline.us',
    apiOrigin: 'https://manage.office365.us',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
  },
  DoD: {
    loginHost: 'https://login.microsoftonline.us',
    apiOrigin: 'https://manage.protection.apps.mil',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
  },
  '21Vianet': {
    loginHost: 'https://login.partner.microsoftonline.cn',
    apiOrigin: 'https://manage.office.cn',
    tokenExchangeAudience: 'api://AzureADTokenExchangeChina',
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
