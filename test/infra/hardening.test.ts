import { readFileSync } from 'node:fs';
import path from 'node:path';
import { localAccessNote } from '../../scripts/postprovision';
import {
  Expr,
  INFRA_DIR,
  REPO_ROOT,
  decoratorArgument,
  declarations,
  params,
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
const fileNamed = (name: string): BicepFile => files.find((f) => f.name === `infra/${name}`)!;
/** The condition of `resource x '...' = if (condition) {...}`, without the parentheses. */
const conditionOf = (d: Declaration): string | undefined =>
  d.conditional ? d.body.parent!.namedChildren[0]!.text.replace(/^\((.*)\)$/s, '$1') : undefined;
const paramsOf = (m: Declaration): SyntaxNode => property(m.body, 'params')!;
const literal = (node: SyntaxNode | undefined): unknown => (node ? valueOf(node) : undefined);
const workspaceId = new Expr('logAnalytics.outputs.resourceId');
const parametersFile = (): Record<string, { value: string }> =>
  (
    JSON.parse(readFileSync(path.join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    }
  ).parameters;
const moduleCall = (target: string): SyntaxNode =>
  paramsOf(declarations(main.root, 'module_declaration').find((m) => m.target === target)!);

describe('hardening left at module defaults', () => {
  it('the function app keeps TLS 1.2 and turns FTP off (its siteConfig replaces the module default)', () => {
    expect(literal(property(paramsOf(avmModule('res/web/site')), 'siteConfig'))).toEqual({
      alwaysOn: false,
      minTlsVersion: '1.2',
      ftpsState: 'Disabled',
    });
  });

  it('the function app turns off basic-auth (FTP and SCM) publishing credentials: azd deploys with Entra ID', () => {
    // Without the policies the module creates none and the platform default (allowed) stays.
    expect(
      literal(property(paramsOf(avmModule('res/web/site')), 'basicPublishingCredentialsPolicies')),
    ).toEqual([
      { name: 'ftp', allow: false },
      { name: 'scm', allow: false },
    ]);
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

describe('least privilege for the deploying principal', () => {
  const rbacAssignments = (): Declaration[] =>
    declarations(fileNamed('app/rbac.bicep').root, 'resource_declaration').filter((r) =>
      r.target.startsWith('Microsoft.Authorization/roleAssignments@'),
    );
  const forUser = (): Declaration[] =>
    rbacAssignments().filter(
      (r) => propertyPath(r.body, 'properties', 'principalId')?.text === 'userPrincipalId',
    );
  const roleOf = (r: Declaration): string | undefined =>
    /roles\.(\w+)/.exec(propertyPath(r.body, 'properties', 'roleDefinitionId')!.text)?.[1];

  it('data roles reach the deployer only with deployerDataAccess, which the pipeline turns off', () => {
    const deployerDataAccess = params(main.root).get('deployerDataAccess')!;
    expect(deployerDataAccess.type).toBe('bool');
    expect(literal(deployerDataAccess.default)).toBe(true);
    expect(parametersFile().deployerDataAccess?.value).toBe('${AUDITFEED_DEPLOYER_DATA_ACCESS=true}');

    expect(property(moduleCall('./app/rbac.bicep'), 'userDataAccess')?.text).toBe('deployerDataAccess');
    expect(property(moduleCall('./app/cosmos.bicep'), 'userPrincipalId')?.text).toBe(
      "deployerDataAccess ? principalId : ''",
    );
    expect(variable(fileNamed('app/rbac.bicep').root, 'mirrorForUser')?.text).toBe(
      '!empty(userPrincipalId) && userDataAccess',
    );
    const dataRoles = forUser().filter(
      (r) => roleOf(r) !== 'userKeyVaultRole' && r.name !== 'keyVaultForUser',
    );
    expect(dataRoles.map((r) => `${r.name}: ${conditionOf(r)}`)).toEqual(
      dataRoles.map((r) => `${r.name}: mirrorForUser`),
    );
    expect(dataRoles.map(roleOf).sort()).toEqual([
      'storageBlobDataOwner',
      'storageQueueDataContributor',
      'storageTableDataContributor',
    ]);

    const deploy = readFileSync(path.join(REPO_ROOT, '.github', 'workflows', 'ci.yml'), 'utf8').split(
      /^ {2}deploy:/m,
    )[1]!;
    expect(deploy).toMatch(/^ {6}AUDITFEED_DEPLOYER_DATA_ACCESS: '?false'?$/m);
  });

  it("nobody but the function publishes telemetry (the deployer's Monitoring Metrics Publisher was unused)", () => {
    const publishers = rbacAssignments().filter((r) => roleOf(r) === 'monitoringMetricsPublisher');
    expect(publishers.map((r) => propertyPath(r.body, 'properties', 'principalId')!.text)).toEqual([
      'managedIdentityPrincipalId',
    ]);
  });

  it("only a deploying User may upload the Key Vault credential; a pipeline's service principal may not", () => {
    const vault = forUser().find((r) => r.name === 'keyVaultForUser')!;
    expect(conditionOf(vault)).toBe('userUploadsCredential');
    expect(variable(fileNamed('app/rbac.bicep').root, 'userUploadsCredential')?.text).toBe(
      "useKeyVault && !empty(userPrincipalId) && userPrincipalType == 'User'",
    );
  });

  it('the postprovision hook says when local runs will be refused', () => {
    expect(localAccessNote({ AUDITFEED_DEPLOYER_DATA_ACCESS: 'false' })).toMatch(
      /azd env set AUDITFEED_DEPLOYER_DATA_ACCESS true/,
    );
    expect(localAccessNote({ AUDITFEED_DEPLOYER_DATA_ACCESS: 'true' })).toBeUndefined();
    expect(localAccessNote({})).toBeUndefined();
  });
});

describe('Fabric mirroring with Entra ID', () => {
  it('a custom data-plane role with only readMetadata and readAnalytics, on the account, for an opt-in principal', () => {
    const cosmos = fileNamed('app/cosmos.bicep');
    expect(
      property(paramsOf(avmModule('res/document-db/database-account')), 'sqlRoleDefinitions')?.text,
    ).toMatch(/^\[\s*fabricMirrorRole\s*\]$/);
    expect(literal(variable(cosmos.root, 'fabricMirrorRole'))).toEqual({
      name: new Expr('fabricMirrorRoleId'),
      roleName: 'auditfeed Fabric mirroring',
      dataActions: [
        'Microsoft.DocumentDB/databaseAccounts/readMetadata',
        'Microsoft.DocumentDB/databaseAccounts/readAnalytics',
      ],
      assignableScopes: [new Expr('accountId')],
      assignments: expect.any(Expr) as unknown,
    });
    // No principal, no assignment; one principal, one assignment named guid(account, principal, role).
    const assignments = property(variable(cosmos.root, 'fabricMirrorRole')!, 'assignments')!;
    expect(assignments.text).toMatch(/^empty\(fabricMirrorPrincipalId\)\s*\?\s*\[\]/);
    const entry = assignments.descendantsOfType('object')[0]!;
    expect(literal(entry)).toEqual({
      name: new Expr('guid(accountId, fabricMirrorPrincipalId, fabricMirrorRoleId)'),
      principalId: new Expr('fabricMirrorPrincipalId'),
    });
    expect(variable(cosmos.root, 'fabricMirrorRoleId')?.text).toBe("guid(accountId, 'fabric-mirroring')");
  });

  it('the principal is a main.bicep parameter, empty by default, set with AUDITFEED_FABRIC_PRINCIPAL_ID', () => {
    const declared = params(main.root).get('fabricMirrorPrincipalId')!;
    expect(literal(declared.default)).toBe('');
    expect(parametersFile().fabricMirrorPrincipalId?.value).toBe('${AUDITFEED_FABRIC_PRINCIPAL_ID}');
    expect(property(moduleCall('./app/cosmos.bicep'), 'fabricMirrorPrincipalId')?.text).toBe(
      'fabricMirrorPrincipalId',
    );
  });

  it('the continuous-backup parameter says it cannot be turned off once on', () => {
    const description = decoratorArgument(
      params(main.root).get('cosmosContinuousBackup')!.node,
      'description',
    );
    expect(description).toMatch(/cannot be turned off/);
  });
});

describe('budget', () => {
  it('an opt-in monthly budget on the resource group: 80% actual and 100% forecast e-mail alertEmail', () => {
    const declared = params(main.root);
    expect(literal(declared.get('budgetAmount')!.default)).toBe(0);
    expect(parametersFile().budgetAmount?.value).toBe('${AUDITFEED_BUDGET_AMOUNT=0}');
    const call = declarations(main.root, 'module_declaration').find(
      (m) => m.target === './app/budget.bicep',
    )!;
    expect(conditionOf(call)).toBe('budgetAmount > 0');
    expect(literal(paramsOf(call))).toEqual({
      name: new Expr("'budget-${serviceName}'"),
      amount: new Expr('budgetAmount'),
      startDate: new Expr('empty(budgetStartDate) ? thisMonthStart : budgetStartDate'),
      alertEmail: new Expr('alertEmail'),
    });

    const [budget, ...others] = declarations(fileNamed('app/budget.bicep').root, 'resource_declaration');
    expect(others).toEqual([]);
    expect(budget!.target).toMatch(/^Microsoft\.Consumption\/budgets@/);
    const properties = literal(property(budget!.body, 'properties')) as Record<string, unknown>;
    expect(properties).toMatchObject({
      category: 'Cost',
      amount: new Expr('amount'),
      timeGrain: 'Monthly',
      timePeriod: { startDate: new Expr('startDate') },
    });
    const to = { contactEmails: [new Expr('alertEmail')], enabled: true, operator: 'GreaterThanOrEqualTo' };
    expect(properties.notifications).toEqual({
      actual80: { ...to, threshold: 80, thresholdType: 'Actual' },
      forecasted100: { ...to, threshold: 100, thresholdType: 'Forecasted' },
    });
  });

  it('the start date is the first of a month and stays put once set (a budget refuses a changed start date)', () => {
    const declared = params(main.root);
    // Empty = this month, from the only place utcNow() may be called: a parameter default azd never sets.
    expect(literal(declared.get('budgetStartDate')!.default)).toBe('');
    expect(declared.get('thisMonthStart')!.default!.text).toBe("utcNow('yyyy-MM-01')");
    const file = parametersFile();
    expect(file.thisMonthStart).toBeUndefined();
    // No default in the mapping: the preprovision hook pins the month in the azd environment.
    expect(file.budgetStartDate?.value).toBe('${AUDITFEED_BUDGET_START_DATE}');
    const deploy = readFileSync(path.join(REPO_ROOT, '.github', 'workflows', 'ci.yml'), 'utf8').split(
      /^ {2}deploy:/m,
    )[1]!;
    // The deploy job passes every AUDITFEED_* repository variable, these two included (workflow.test.ts runs it).
    expect(deploy).toMatch(/^\s+VARS: \$\{\{ toJSON\(vars\) \}\}$/m);
    expect(deploy).toMatch(/AUDITFEED_BUDGET_START_DATE too/);
  });
});
