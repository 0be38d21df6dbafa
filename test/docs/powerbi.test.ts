/**
 * docs/deploy.md's Power BI text states only what Microsoft's pages say (see the section's links): Fabric
 * mirroring with an Entra ID account holding readMetadata and readAnalytics, its limits (no TTL deletes in the
 * mirror, continuous backup stays on), and no working path through the Power BI Cosmos DB v2 connector, which
 * Microsoft no longer supports for new projects and whose Feed Key needs the keys this deployment turns off.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const deploy = readFileSync(path.join(__dirname, '..', '..', 'docs', 'deploy.md'), 'utf8');
const section = deploy.slice(
  deploy.indexOf('\n## Power BI\n'),
  deploy.indexOf('\n## ', deploy.indexOf('\n## Power BI\n') + 1),
);

describe('docs/deploy.md: Power BI and Fabric mirroring', () => {
  it('has the section the parameter table links to', () => {
    expect(section.length).toBeGreaterThan(100);
    expect(deploy).toContain('](#power-bi)');
  });

  it('does not offer the Cosmos DB v2 connector with an organizational account as a working path', () => {
    const text = deploy.replace(/\s+/g, ' ');
    expect(text).not.toMatch(/v2 connector (also )?works/i);
    expect(text).not.toMatch(/connector[^.]*sign in with an organizational account/i);
    // The built-in Data Reader role grants no readAnalytics: it cannot connect mirroring either.
    expect(section).not.toContain('00000000-0000-0000-0000-000000000001');
    expect(section).toMatch(/no longer supported for\s+new projects/);
    expect(section).toContain('https://learn.microsoft.com/power-query/connectors/azure-cosmos-db-v2');
  });

  it('names the permissions mirroring needs, the opt-in principal, and the limits, with sources', () => {
    expect(section).toContain('Microsoft.DocumentDB/databaseAccounts/readMetadata');
    expect(section).toContain('Microsoft.DocumentDB/databaseAccounts/readAnalytics');
    expect(section).toContain('AUDITFEED_FABRIC_PRINCIPAL_ID');
    expect(section).toMatch(/time to\s+live/);
    expect(section).toContain('AUDITFEED_RETENTION_DAYS');
    expect(section).toMatch(/cannot be turned off/);
    expect(section).toContain('https://learn.microsoft.com/fabric/mirroring/azure-cosmos-db-limitations');
  });
});
