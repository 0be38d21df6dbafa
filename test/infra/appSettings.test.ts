import path from 'node:path';
import { SETTINGS, type SettingSpec } from '../../shared/config';
import {
  Expr,
  INFRA_DIR,
  allProperties,
  decoratorArgument,
  declarations,
  loadAllBicep,
  loadBicep,
  objectProperties,
  params,
  property,
  stringValue,
  valueOf,
  variable,
  type BicepFile,
  type SyntaxNode,
} from './bicep';

type SettingKey = keyof typeof SETTINGS;

/**
 * The app settings the code reads (SETTINGS in shared/config.ts) against the ones infra/ sets.
 *
 * - localOnly settings (simulator endpoints, the local Cosmos key) are never set in Azure.
 * - The credential of the Management API depends on AUDITFEED_AUTH_MODE: main.bicep sets exactly one of them,
 *   chosen by the authMode parameter (var authModeSettings). They are checked per mode, not in the fixed set.
 * - NOT_IN_AZURE lists the rest that Azure deliberately leaves unset, each with its reason.
 * Everything else must be set unconditionally (var auditfeedSettings), so a setting added to the code
 * without infra fails here.
 */
const AUTH_MODE_SETTINGS: Record<string, SettingKey[]> = {
  federated: ['managedIdentityClientId'],
  certificate: ['clientCertificate'],
  secret: ['clientSecret'],
};

const NOT_IN_AZURE: Partial<Record<SettingKey, string>> = {
  storage:
    'connection-string form for local runs; Azure uses the __blobServiceUri/__queueServiceUri identity form',
  clientCertificatePath:
    'a file on disk; in Azure the certificate is a Key Vault reference (AUDITFEED_CLIENT_CERTIFICATE)',
};

const HOST_SETTINGS = [
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];

const spec = (key: SettingKey): SettingSpec => SETTINGS[key];
const keys = Object.keys(SETTINGS) as SettingKey[];
const names = (list: SettingKey[]): string[] => list.map((k) => spec(k).name).sort();

function objectVar(file: BicepFile, name: string): SyntaxNode {
  const node = variable(file.root, name);
  if (node?.type !== 'object') throw new Error(`${file.name}: var ${name} is not an object literal`);
  return node;
}

describe('app settings: code and infra agree', () => {
  let main: BicepFile;
  let fn: BicepFile;
  let all: BicepFile[];

  beforeAll(async () => {
    main = await loadBicep(path.join(INFRA_DIR, 'main.bicep'));
    fn = await loadBicep(path.join(INFRA_DIR, 'app', 'function.bicep'));
    all = await loadAllBicep();
  });

  it('every setting set unconditionally is one the code reads, and every one the code reads in Azure is set', () => {
    const conditional = new Set(Object.values(AUTH_MODE_SETTINGS).flat());
    const expected = keys.filter(
      (k) => !spec(k).localOnly && !conditional.has(k) && NOT_IN_AZURE[k] === undefined,
    );
    const set = objectProperties(objectVar(main, 'auditfeedSettings')).map(([k]) => k);
    expect(set.slice().sort()).toEqual(names(expected));
  });

  it('each auth mode sets exactly its credential setting', () => {
    const modes = Object.fromEntries(
      objectProperties(objectVar(main, 'authModeSettings')).map(([mode, node]) => [
        mode,
        objectProperties(node)
          .map(([k]) => k)
          .sort(),
      ]),
    );
    expect(modes).toEqual(
      Object.fromEntries(Object.entries(AUTH_MODE_SETTINGS).map(([m, ks]) => [m, names(ks)])),
    );
    expect(decoratorArgument(params(main.root).get('authMode')!.node, 'allowed')).toEqual(
      Object.keys(AUTH_MODE_SETTINGS),
    );
    expect(valueOf(params(main.root).get('authMode')!.default!)).toBe(SETTINGS.authMode.default);
  });

  it('the credential settings of certificate and secret are Key Vault references, never values', () => {
    const reference = variable(main.root, 'managementApiCredentialReference');
    expect(reference?.text).toMatch(/^'@Microsoft\.KeyVault\(SecretUri=https:\/\/\$\{keyVaultName\}/);
    const modes = objectVar(main, 'authModeSettings');
    expect(property(property(modes, 'certificate')!, SETTINGS.clientCertificate.name)?.text).toBe(
      'managementApiCredentialReference',
    );
    expect(property(property(modes, 'secret')!, SETTINGS.clientSecret.name)?.text).toBe(
      'managementApiCredentialReference',
    );
  });

  it('the exclusions name settings that exist and are not local-only', () => {
    for (const key of Object.keys(NOT_IN_AZURE) as SettingKey[]) {
      expect(SETTINGS[key]).toBeDefined();
      expect(spec(key).localOnly).toBeFalsy();
    }
  });

  it('no Bicep file sets an AUDITFEED_ setting the code does not read, or a local-only one', () => {
    const known = new Set(keys.filter((k) => !spec(k).localOnly).map((k) => spec(k).name));
    const stray = all.flatMap((f) =>
      allProperties(f.root)
        .map(([k]) => k)
        .filter((k) => k.startsWith('AUDITFEED_') && !known.has(k))
        .map((k) => `${f.name}: ${k}`),
    );
    // Outputs share the names but are not app settings.
    expect(stray).toEqual([]);
  });

  it('the app gets the auditfeed settings of the chosen auth mode plus the host settings', () => {
    const module = declarations(main.root, 'module_declaration').find(
      (m) => m.target === './app/function.bicep',
    );
    expect(property(property(module!.body, 'params')!, 'appSettings')?.text).toBe(
      'union(auditfeedSettings, authModeSettings[authMode])',
    );
    expect(
      objectProperties(objectVar(fn, 'hostSettings'))
        .map(([k]) => k)
        .sort(),
    ).toEqual(HOST_SETTINGS.slice().sort());
  });

  it('identity-based connections use the managed identity', () => {
    const settings = {
      ...valuesOf(objectVar(main, 'auditfeedSettings')),
      ...valuesOf(objectVar(fn, 'hostSettings')),
    };
    for (const prefix of ['AzureWebJobsStorage', 'AUDITFEED_STORAGE', 'AUDITFEED_COSMOS']) {
      expect(settings[`${prefix}__credential`]).toBe('managedidentity');
      expect(settings[`${prefix}__clientId`]).toBeInstanceOf(Expr);
      expect((settings[`${prefix}__clientId`] as Expr).text).toMatch(/identity(\.outputs\.c|C)lientId$/);
    }
    expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toEqual(
      new Expr("'ClientId=${identityClientId};Authorization=AAD'"),
    );
  });

  it('parameter defaults equal the code defaults', () => {
    const declared = params(main.root);
    const settings = objectProperties(objectVar(main, 'auditfeedSettings'));
    const byName = new Map(keys.map((k) => [spec(k).name, spec(k)]));
    const checked: string[] = [];
    for (const [name, value] of settings) {
      // A setting taken straight from a parameter: `param` or `string(param)`.
      const paramName = /^(?:string\((\w+)\)|(\w+))$/.exec(value.text);
      const param = paramName ? declared.get(paramName[1] ?? paramName[2]!) : undefined;
      if (!param) continue;
      const codeDefault = byName.get(name)!.default;
      // Numbers by their source text, strings by their value.
      const bicepDefault = param.default ? (stringValue(param.default) ?? param.default.text) : undefined;
      if (codeDefault === undefined) {
        // Required in the code, or unset means "derive it": Bicep has no default or an empty one.
        expect([undefined, '']).toContain(bicepDefault);
      } else {
        expect(`${name}=${bicepDefault}`).toBe(`${name}=${codeDefault}`);
      }
      checked.push(name);
    }
    expect(checked.length).toBeGreaterThan(15);
  });
});

function valuesOf(node: SyntaxNode): Record<string, unknown> {
  return Object.fromEntries(
    objectProperties(node).map(([k, v]) => [
      k,
      v.type === 'string' ? (stringValue(v) ?? new Expr(v.text)) : valueOf(v),
    ]),
  );
}
