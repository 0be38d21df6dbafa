import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CLOUD_ENDPOINTS, CLOUDS } from '../../shared/clouds';
import { MAX_RETENTION_DAYS, SETTINGS } from '../../shared/config';
import { CONTAINERS } from '../../shared/storage/clients';
import { INDEXING_POLICY, PARTITION_KEY } from '../../shared/writer/cosmosContainer';
import { poisonQueueName } from '../../shared/writer/poisonReplay';
import {
  Expr,
  INFRA_DIR,
  REPO_ROOT,
  allProperties,
  decoratorArgument,
  decoratorNames,
  declarations,
  loadAllBicep,
  outputs,
  params,
  propertyPath,
  property,
  stringValue,
  valueOf,
  variable,
  type BicepFile,
  type Declaration,
  type SyntaxNode,
} from './bicep';

const AVM_REFERENCE = /^br\/public:avm\/(res|ptn|utl)\/[a-z0-9-]+\/[a-z0-9-]+(\/[a-z0-9-]+)*:\d+\.\d+\.\d+$/;

/** Built-in role definition ids (Azure docs, "Azure built-in roles"). */
const BUILT_IN_ROLES: Record<string, string> = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985',
};
const COSMOS_DATA_CONTRIBUTOR = '00000000-0000-0000-0000-000000000002';

let files: BicepFile[];
let main: BicepFile;

beforeAll(async () => {
  files = await loadAllBicep();
  main = files.find((f) => f.name === 'infra/main.bicep')!;
});

const fileNamed = (name: string): BicepFile => files.find((f) => f.name === `infra/${name}`)!;
const modules = (f: BicepFile): Declaration[] => declarations(f.root, 'module_declaration');
const avmModule = (name: string): Declaration => {
  const found = files.flatMap(modules).filter((m) => m.target.startsWith(`br/public:avm/${name}:`));
  expect(found).toHaveLength(1);
  return found[0]!;
};
const params_ = (m: Declaration): SyntaxNode => property(m.body, 'params')!;
const literal = (node: SyntaxNode | undefined): unknown => (node ? valueOf(node) : undefined);

describe('main.parameters.json', () => {
  const file = JSON.parse(readFileSync(path.join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as {
    parameters: Record<string, { value: unknown }>;
  };

  it('declares only parameters main.bicep has', () => {
    const declared = params(main.root);
    expect(Object.keys(file.parameters).filter((p) => !declared.has(p))).toEqual([]);
  });

  it('provides every parameter without a default', () => {
    const required = [...params(main.root).values()].filter((p) => !p.default).map((p) => p.name);
    expect(required.filter((p) => !(p in file.parameters))).toEqual([]);
  });

  it('maps azd environment variables, with defaults equal to the Bicep ones', () => {
    const declared = params(main.root);
    for (const [name, { value }] of Object.entries(file.parameters)) {
      const match = /^\$\{([A-Z_][A-Z0-9_]*)(?:=(.*))?\}$/.exec(String(value));
      expect(match).not.toBeNull();
      if (match?.[2] !== undefined)
        expect(`${name}=${String(literal(declared.get(name)!.default))}`).toBe(`${name}=${match[2]}`);
    }
  });

  it('documents every auditfeed environment variable in docs/deploy.md', () => {
    const deployDoc = readFileSync(path.join(INFRA_DIR, '..', 'docs', 'deploy.md'), 'utf8');
    const vars = Object.values(file.parameters)
      .map(({ value }) => /^\$\{(AUDITFEED_[A-Z0-9_]*)/.exec(String(value))?.[1])
      .filter((v): v is string => v !== undefined);
    expect(vars.length).toBeGreaterThan(10);
    expect(vars.filter((v) => !deployDoc.includes(`\`${v}\``))).toEqual([]);
  });
});

describe('modules', () => {
  it('every local module path exists', () => {
    const missing = files.flatMap((f) =>
      modules(f)
        .filter((m) => !m.target.startsWith('br'))
        .filter((m) => !existsSync(path.resolve(path.dirname(f.file), m.target)))
        .map((m) => `${f.name}: ${m.target}`),
    );
    expect(missing).toEqual([]);
  });

  it('every registry module is an Azure Verified Module pinned to a version', () => {
    const registry = files.flatMap((f) => modules(f).filter((m) => /^(br|ts)[:/]/.test(m.target)));
    expect(registry.length).toBeGreaterThan(5);
    expect(registry.map((m) => m.target).filter((t) => !AVM_REFERENCE.test(t))).toEqual([]);
  });

  it('loadJsonContent files exist', () => {
    for (const f of files) {
      for (const call of f.root.descendantsOfType('call_expression')) {
        if (call.childForFieldName('function')?.text !== 'loadJsonContent') continue;
        const arg = stringValue(call.childForFieldName('arguments')!.namedChildren[0]!)!;
        expect(existsSync(path.resolve(path.dirname(f.file), arg))).toBe(true);
      }
    }
  });
});

describe('no keys, connection strings or secrets', () => {
  const FORBIDDEN = [
    /listKeys\s*\(/i,
    /listConnectionStrings\s*\(/i,
    /list(Account|Service)Sas\s*\(/i,
    /AccountKey=/i,
    /SharedAccessSignature=/i,
    /primaryMasterKey|secondaryMasterKey|primaryKey\b|instrumentationKey/i,
  ];

  it.each(FORBIDDEN.map((r) => [r.source, r]))('no Bicep file contains %s', (_, pattern) => {
    expect(files.filter((f) => pattern.test(f.source)).map((f) => f.name)).toEqual([]);
  });

  it('no output is @secure() and only the App Insights connection string is output', () => {
    for (const f of files) {
      for (const o of outputs(f.root)) {
        expect(`${f.name}: ${o.name} ${decoratorNames(o.node).join(',')}`).not.toMatch(/secure/);
        if (/connectionstring/i.test(o.value.text))
          expect(o.name).toBe('APPLICATIONINSIGHTS_CONNECTION_STRING');
      }
    }
  });

  it('no app setting is a connection string, a key or a secret value', () => {
    for (const f of files) {
      for (const [key, value] of allProperties(f.root)) {
        if (!/^(AUDITFEED_|AzureWebJobs|APPLICATIONINSIGHTS_)/.test(key)) continue;
        const where = `${f.name}: ${key}`;
        expect(where).not.toMatch(/: (AzureWebJobsStorage|AUDITFEED_STORAGE)$/); // connection-string forms
        expect(where).not.toMatch(/(__accountKey|ConnectionString)$/i);
        if (key !== 'APPLICATIONINSIGHTS_CONNECTION_STRING') {
          expect(`${where} = ${value.text}`).not.toMatch(/connectionString|AccountKey|SharedAccess/i);
        }
        if (/(SECRET|CERTIFICATE)$/.test(key)) {
          expect(`${where} = ${value.text}`).toMatch(/= managementApiCredentialReference$/);
        }
      }
    }
  });

  it('storage refuses shared keys and anonymous blobs; Cosmos DB, logs and Key Vault use Entra ID only', () => {
    const storage = params_(avmModule('res/storage/storage-account'));
    expect(literal(property(storage, 'allowSharedKeyAccess'))).toBe(false);
    expect(literal(property(storage, 'allowBlobPublicAccess'))).toBe(false);
    expect(literal(property(storage, 'minimumTlsVersion'))).toBe('TLS1_2');

    const cosmos = params_(avmModule('res/document-db/database-account'));
    expect(literal(property(cosmos, 'disableLocalAuthentication'))).toBe(true);
    expect(literal(property(cosmos, 'disableKeyBasedMetadataWriteAccess'))).toBe(true);

    expect(literal(property(params_(avmModule('res/insights/component')), 'disableLocalAuth'))).toBe(true);
    const workspaces = declarations(fileNamed('app/logAnalytics.bicep').root, 'resource_declaration');
    expect(workspaces.map((w) => w.target.split('@')[0])).toEqual([
      'Microsoft.OperationalInsights/workspaces',
    ]);
    expect(literal(propertyPath(workspaces[0]!.body, 'properties', 'features', 'disableLocalAuth'))).toBe(
      true,
    );
    // App Insights stores into that workspace, not one of its own.
    expect(property(params_(avmModule('res/insights/component')), 'workspaceResourceId')?.text).toBe(
      'logAnalytics.outputs.resourceId',
    );
    expect(literal(property(params_(avmModule('res/key-vault/vault')), 'enableRbacAuthorization'))).toBe(
      true,
    );
  });
});

describe('function app', () => {
  it('runs on Flex Consumption (FC1), Node 22, with only the user-assigned identity', () => {
    const plan = params_(avmModule('res/web/serverfarm'));
    expect(literal(property(plan, 'sku'))).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(literal(property(plan, 'reserved'))).toBe(true);

    const call = modules(main).find((m) => m.target === './app/function.bicep')!;
    expect(literal(property(params_(call), 'runtimeName'))).toBe('node');
    expect(literal(property(params_(call), 'runtimeVersion'))).toBe('22');

    const site = params_(avmModule('res/web/site'));
    expect(literal(property(site, 'kind'))).toBe('functionapp,linux');
    expect(literal(propertyPath(site, 'managedIdentities', 'systemAssigned'))).toBe(false);
    expect(
      literal(propertyPath(site, 'functionAppConfig', 'deployment', 'storage', 'authentication', 'type')),
    ).toBe('UserAssignedIdentity');
    expect(property(site, 'keyVaultAccessIdentityResourceId')?.text).toBe('identityId');
  });
});

describe('role assignments', () => {
  it('every role assignment is named guid(scope, principal, role) and grants that role to that principal', () => {
    const assignments = files.flatMap((f) =>
      declarations(f.root, 'resource_declaration').filter((r) =>
        r.target.startsWith('Microsoft.Authorization/roleAssignments@'),
      ),
    );
    expect(assignments.length).toBeGreaterThanOrEqual(5);
    for (const a of assignments) {
      const name = property(a.body, 'name')!;
      expect(name.childForFieldName('function')?.text).toBe('guid');
      const [scope, principal, role] = name.childForFieldName('arguments')!.namedChildren.map((n) => n.text);
      expect(`${scope}`).toBe(`${property(a.body, 'scope')!.text}.id`);
      expect(principal).toBe(propertyPath(a.body, 'properties', 'principalId')!.text);
      expect(propertyPath(a.body, 'properties', 'roleDefinitionId')!.text).toContain(role!);
    }
  });

  it('role ids are the built-in ones and the function identity gets each data role it needs', () => {
    const rbac = fileNamed('app/rbac.bicep');
    expect(literal(variable(rbac.root, 'roles'))).toEqual(BUILT_IN_ROLES);
    const forFunction = declarations(rbac.root, 'resource_declaration')
      .filter((r) => propertyPath(r.body, 'properties', 'principalId')?.text === 'managedIdentityPrincipalId')
      .map((r) => /roles\.(\w+)/.exec(propertyPath(r.body, 'properties', 'roleDefinitionId')!.text)?.[1]);
    expect(forFunction.sort()).toEqual(
      [
        'keyVaultSecretsUser',
        'monitoringMetricsPublisher',
        'storageBlobDataOwner',
        'storageQueueDataContributor',
        'storageTableDataContributor',
      ].sort(),
    );
  });

  it('Cosmos DB data access is the built-in data contributor through sqlRoleAssignments, named guid(account, principal, role)', () => {
    const cosmos = fileNamed('app/cosmos.bicep');
    expect(literal(variable(cosmos.root, 'dataContributorRoleId'))).toBe(COSMOS_DATA_CONTRIBUTOR);
    expect(property(params_(avmModule('res/document-db/database-account')), 'sqlRoleAssignments')?.text).toBe(
      'concat(functionAssignment, userAssignment)',
    );
    const entries = [
      variable(cosmos.root, 'functionAssignment')!,
      variable(cosmos.root, 'userAssignment')!,
    ].flatMap((n) => n.descendantsOfType('object'));
    expect(entries).toHaveLength(2);
    for (const entry of entries) {
      const principal = property(entry, 'principalId')!.text;
      expect(property(entry, 'name')!.text).toBe(`guid(accountId, ${principal}, dataContributorRoleId)`);
      expect(property(entry, 'roleDefinitionId')!.text).toBe('dataContributorRoleId');
    }
  });
});

describe('storage', () => {
  const codeContainers = (): string[] => {
    // Containers named anywhere in the code: CONTAINERS plus every exported *_CONTAINER constant.
    const found = new Set<string>(Object.values(CONTAINERS));
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.ts')) {
          for (const m of readFileSync(full, 'utf8').matchAll(/export const \w+_CONTAINER = '([^']+)'/g))
            found.add(m[1]!);
        }
      }
    };
    walk(path.join(REPO_ROOT, 'shared'));
    return [...found].sort();
  };

  it('creates every container the code uses', () => {
    const containers = literal(variable(main.root, 'auditfeedContainers')) as string[];
    expect(codeContainers()).toEqual(
      expect.arrayContaining(['watermarks', 'batches', 'oversize', 'rejected']),
    );
    expect(containers.slice().sort()).toEqual(codeContainers());
    const blob = propertyPath(
      params_(avmModule('res/storage/storage-account')),
      'blobServices',
      'containers',
    )!;
    expect(blob.text).toContain('concat([deploymentStorageContainerName], auditfeedContainers)');
  });

  it('creates the batch, work and backfill queues and their poison queues, the names defaulting to the code defaults', () => {
    expect(literal(params(main.root).get('queueName')!.default)).toBe(SETTINGS.queueName.default);
    expect(literal(params(main.root).get('workQueueName')!.default)).toBe(SETTINGS.workQueueName.default);
    expect(literal(params(main.root).get('backfillQueueName')!.default)).toBe(
      SETTINGS.backfillQueueName.default,
    );
    const queues = literal(
      propertyPath(params_(avmModule('res/storage/storage-account')), 'queueServices', 'queues'),
    );
    expect(queues).toEqual([
      { name: new Expr('queueName') },
      { name: new Expr("'${queueName}-poison'") },
      { name: new Expr('workQueueName') },
      { name: new Expr("'${workQueueName}-poison'") },
      { name: new Expr('backfillQueueName') },
      { name: new Expr("'${backfillQueueName}-poison'") },
    ]);
    expect(poisonQueueName('q')).toBe('q-poison');
  });
});

describe('Cosmos DB', () => {
  const container = (): SyntaxNode => {
    const databases = property(params_(avmModule('res/document-db/database-account')), 'sqlDatabases')!;
    return databases.descendantsOfType('object').find((o) => property(o, 'indexingPolicy') !== undefined)!;
  };

  it('has exactly the indexing policy of shared/writer/cosmosContainer.ts', () => {
    expect(literal(property(container(), 'indexingPolicy'))).toEqual(INDEXING_POLICY);
  });

  it('has the partition key, TTL from the retention parameter, and the code defaults for names and retention', () => {
    const c = container();
    expect({
      paths: literal(property(c, 'paths')),
      kind: literal(property(c, 'kind')),
      version: literal(property(c, 'version')),
    }).toEqual(PARTITION_KEY);
    expect(property(c, 'defaultTtl')!.text).toBe('retentionDays * 86400');
    const declared = params(main.root);
    expect(String(literal(declared.get('retentionDays')!.default))).toBe(SETTINGS.retentionDays.default);
    expect(literal(declared.get('cosmosDatabaseName')!.default)).toBe(SETTINGS.cosmosDatabase.default);
    expect(literal(declared.get('cosmosContainerName')!.default)).toBe(SETTINGS.cosmosContainer.default);
  });

  it('is serverless by default, provisioned autoscale and continuous backup by parameter', () => {
    const declared = params(main.root);
    expect(literal(declared.get('cosmosCapacityMode')!.default)).toBe('serverless');
    expect(literal(declared.get('cosmosContinuousBackup')!.default)).toBe(true);
    const account = params_(avmModule('res/document-db/database-account'));
    expect(property(account, 'capabilitiesToAdd')!.text).toBe("serverless ? ['EnableServerless'] : []");
    expect(property(account, 'backupPolicyType')!.text).toBe("continuousBackup ? 'Continuous' : 'Periodic'");
    expect(property(container(), 'autoscaleSettingsMaxThroughput')!.text).toBe(
      'serverless ? null : autoscaleMaxThroughput',
    );
  });
});

describe('clouds and the federated credential', () => {
  it('the cloud parameter allows exactly the clouds the code knows', () => {
    expect(decoratorArgument(params(main.root).get('cloud')!.node, 'allowed')).toEqual([...CLOUDS]);
    expect(literal(params(main.root).get('cloud')!.default)).toBe(SETTINGS.cloud.default);
  });

  it('the credential issuer per cloud is the login host the code uses (21Vianet: login.partner.microsoftonline.cn)', () => {
    const hosts = literal(variable(main.root, 'federatedCredentialIssuerHosts'));
    expect(hosts).toEqual(
      Object.fromEntries(CLOUDS.map((c) => [c, new URL(CLOUD_ENDPOINTS[c].loginHost).host])),
    );
    expect(variable(main.root, 'federatedCredentialIssuer')!.text).toBe(
      "'https://${federatedCredentialIssuerHosts[cloud]}/${tenant().tenantId}/v2.0'",
    );
  });

  it('retention is bounded by what a Cosmos DB TTL can hold, as in the code', () => {
    expect(decoratorArgument(params(main.root).get('retentionDays')!.node, 'maxValue')).toBe(
      MAX_RETENTION_DAYS,
    );
    expect(MAX_RETENTION_DAYS * 86_400).toBeLessThanOrEqual(2_147_483_647);
  });

  it('the credential audience per cloud is the one the code asks for', () => {
    const audiences = literal(variable(main.root, 'tokenExchangeAudiences'));
    expect(audiences).toEqual(
      Object.fromEntries(CLOUDS.map((c) => [c, CLOUD_ENDPOINTS[c].tokenExchangeAudience])),
    );
  });
});

describe('azure.yaml and the workflow', () => {
  const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');

  it('azure.yaml deploys one Functions service with remote build and a cross-platform postprovision hook', () => {
    const yaml = read('azure.yaml');
    expect(yaml).toMatch(/^\s+host: function$/m);
    expect(yaml).toMatch(/^\s+remoteBuild: true$/m);
    expect(yaml.match(/run: node scripts\/postprovision\.js/g)).toHaveLength(2);
    expect(existsSync(path.join(REPO_ROOT, 'scripts', 'postprovision.js'))).toBe(true);
  });

  it('CI lints, tests, builds and lints the Bicep, and deploys only where Azure is configured', () => {
    const ci = read('.github/workflows/ci.yml');
    expect(ci).toContain('npm test');
    expect(ci).toMatch(/az bicep build/);
    expect(ci).toMatch(/az bicep lint/);
    expect(ci).toMatch(/vars\.AZURE_CLIENT_ID != ''/);
    expect(ci).toMatch(/id-token: write/);
    expect(ci).toMatch(/azd auth login[^\n]*--federated-credential-provider "?github/);
  });
});
