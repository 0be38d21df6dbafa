// Types of postprovision.js, which stays plain JavaScript so the azd hook needs no build.

export interface LocalSettingsFile {
  IsEncrypted: boolean;
  Values: Record<string, string>;
}

export interface FederatedCredential {
  uri: string;
  body: { name: string; issuer: string; subject: string; audiences: string[]; description: string };
}

export function parseEnvValues(text: string): Record<string, string>;
export function localSettings(
  env: Record<string, string>,
  existing: Partial<LocalSettingsFile> | undefined,
): LocalSettingsFile;
export function federatedCredential(env: Record<string, string>): FederatedCredential;
export function federationNote(fic: FederatedCredential, bodyFile: string): string;
export function consentUrls(env: Record<string, string>): string[];
export function consentNote(env: Record<string, string>): string;
export function dashboardNote(env: Record<string, string>): string | undefined;
export function localAccessNote(env: Record<string, string>): string | undefined;
export const REMOVED_LOCALLY: readonly string[];
export const LOGIN_HOSTS: Readonly<Record<string, string>>;
export const AUDIT_LOG_QUERY: Readonly<Record<string, 'documented' | 'unconfirmed' | 'unavailable'>>;
