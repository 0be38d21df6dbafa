import {
  Expr,
  declarations,
  loadAllBicep,
  property,
  propertyPath,
  valueOf,
  variable,
  type BicepFile,
  type Declaration,
  type SyntaxNode,
} from './bicep';

/** Issue 11: hardening the defaults left open, least privilege, Fabric mirroring, a budget, an early cloud check. */

let files: BicepFile[];
let main: BicepFile;

beforeAll(async () => {
  files = await loadAllBicep();
  main = files.find((f) => f.name === 'infra/main.bicep')!;
});

const avmModule = (name: string): Declaration => {
  const found = files
    .flatMap((f) => declarations(f.root, 'module_declaration'))
    .filter((m) => m.target.startsWith(`br/public:avm/${name}:`));
  expect(found).toHaveLength(1);
  return found[0]!;
};
const paramsOf = (m: Declaration): SyntaxNode => property(m.body, 'params')!;
const literal = (node: SyntaxNode | undefined): unknown => (node ? valueOf(node) : undefined);
const workspaceId = new Expr('logAnalytics.outputs.resourceId');

describe('hardening left at module defaults', () => {
  it('the function app keeps TLS 1.2 and turns FTP off (its siteConfig replaces the module default)', () => {
    expect(literal(property(paramsOf(avmModule('res/web/site')), 'siteConfig'))).toEqual({
      alwaysOn: false,
      minTlsVersion: '1.2',
      ftpsState: 'Disabled',
    });
  });

  it('Key Vault grants no VM, template or disk-encryption access', () => {
    const vault = paramsOf(avmModule('res/key-vault/vault'));
    for (const key of [
      'enableVaultForDeployment',
      'enableVaultForTemplateDeployment',
      'enableVaultForDiskEncryption',
    ]) {
      expect(`${key}=${String(literal(property(vault, key)))}`).toBe(`${key}=false`);
    }
  });

  it('storage allows no cross-tenant object replication', () => {
    expect(
      literal(property(paramsOf(avmModule('res/storage/storage-account')), 'allowCrossTenantReplication')),
    ).toBe(false);
  });
});

describe('data-plane logs go to the Log Analytics workspace', () => {
  it('Cosmos DB: data-plane requests, queries and control-plane changes, in resource-specific tables', () => {
    const settings = literal(
      property(paramsOf(avmModule('res/document-db/database-account')), 'diagnosticSettings'),
    );
    expect(settings).toEqual([
      {
        name: 'audit-to-workspace',
        workspaceResourceId: new Expr('logAnalyticsWorkspaceId'),
        logAnalyticsDestinationType: 'Dedicated',
        logCategoriesAndGroups: [
          { category: 'DataPlaneRequests' },
          { category: 'QueryRuntimeStatistics' },
          { category: 'ControlPlaneRequests' },
        ],
        metricCategories: [],
      },
    ]);
    const call = declarations(main.root, 'module_declaration').find(
      (m) => m.target === './app/cosmos.bicep',
    )!;
    expect(literal(property(paramsOf(call), 'logAnalyticsWorkspaceId'))).toEqual(workspaceId);
  });

  it('Storage: reads, writes and deletes on the blob and the queue service', () => {
    const storage = paramsOf(avmModule('res/storage/storage-account'));
    for (const service of ['blobServices', 'queueServices']) {
      expect(`${service}: ${propertyPath(storage, service, 'diagnosticSettings')?.text}`).toBe(
        `${service}: storageDataPlaneLogs`,
      );
    }
    expect(literal(variable(main.root, 'storageDataPlaneLogs'))).toEqual([
      {
        name: 'audit-to-workspace',
        workspaceResourceId: workspaceId,
        logCategoriesAndGroups: [
          { category: 'StorageRead' },
          { category: 'StorageWrite' },
          { category: 'StorageDelete' },
        ],
        metricCategories: [],
      },
    ]);
  });

  it('Key Vault: every audit event (reads of the credential included)', () => {
    expect(literal(property(paramsOf(avmModule('res/key-vault/vault')), 'diagnosticSettings'))).toEqual([
      {
        name: 'audit-to-workspace',
        workspaceResourceId: workspaceId,
        logCategoriesAndGroups: [{ category: 'AuditEvent' }],
        metricCategories: [],
      },
    ]);
  });
});
