import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  Expr,
  REPO_ROOT,
  declarations,
  loadAllBicep,
  property,
  propertyPath,
  valueOf,
  type BicepFile,
  type SyntaxNode,
} from './bicep';

/** Secret mode's expiry alert: Key Vault's near-expiry events become Azure Monitor alerts (issue 11). */

let files: BicepFile[];
const file = (name: string): BicepFile => files.find((f) => f.name === `infra/${name}`)!;
const literal = (node: SyntaxNode | undefined): unknown => (node ? valueOf(node) : undefined);

beforeAll(async () => {
  files = await loadAllBicep();
});

describe('credential expiry from Key Vault', () => {
  it('subscribes the vault’s near-expiry and expired events of secrets and certificates', () => {
    const [topic] = declarations(file('app/vaultExpiry.bicep').root, 'resource_declaration').filter((d) =>
      d.target.startsWith('Microsoft.EventGrid/systemTopics@'),
    );
    expect(literal(property(topic!.body, 'properties'))).toEqual({
      source: new Expr('vault.id'),
      topicType: 'Microsoft.KeyVault.vaults',
    });
    const [subscription] = declarations(file('app/vaultExpiry.bicep').root, 'resource_declaration').filter(
      (d) => d.target.startsWith('Microsoft.EventGrid/systemTopics/eventSubscriptions@'),
    );
    // MonitorAlert destinations exist from 2023-12-15-preview on.
    expect(subscription!.target.split('@')[1]! >= '2023-12-15').toBe(true);
    expect(literal(propertyPath(subscription!.body, 'properties', 'filter', 'includedEventTypes'))).toEqual([
      'Microsoft.KeyVault.SecretNearExpiry',
      'Microsoft.KeyVault.SecretExpired',
      'Microsoft.KeyVault.CertificateNearExpiry',
      'Microsoft.KeyVault.CertificateExpired',
    ]);
    const destination = propertyPath(subscription!.body, 'properties', 'destination')!;
    expect(literal(property(destination, 'endpointType'))).toBe('MonitorAlert');
    expect(literal(propertyPath(destination, 'properties', 'actionGroups'))).toEqual(
      new Expr('actionGroupIds'),
    );
    expect(propertyPath(destination, 'properties', 'description')!.text).toContain('${runbookUrl}');
  });

  it('is deployed with a Key Vault and an action group, notifies the alerts’ action group and links the runbook', () => {
    const main = file('main.bicep');
    const call = declarations(main.root, 'module_declaration').find(
      (m) => m.target === './app/vaultExpiry.bicep',
    )!;
    expect(call.conditional).toBe(true);
    expect(call.body.parent!.namedChildren[0]!.text).toBe('(useKeyVault && !empty(alertEmail))');
    const params = property(call.body, 'params')!;
    expect(literal(property(params, 'actionGroupIds'))).toEqual(new Expr('alerts.outputs.actionGroupIds'));
    expect(property(params, 'runbookUrl')!.text).toBe("'${runbookBaseUrl}#credential-expiry'");
    expect(file('app/alerts.bicep').source).toMatch(/^output actionGroupIds array = actionGroupIds$/m);
  });

  it('the docs upload the secret with an expiry date, without which Key Vault sends no event', () => {
    const deploy = readFileSync(path.join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
    expect(deploy).toMatch(/az keyvault secret set [^\n]*--expires/);
  });
});
