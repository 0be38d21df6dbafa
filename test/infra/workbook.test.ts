import path from 'node:path';
import { kqlDiagnostics } from '../helpers/kustoLanguage';
import {
  INFRA_DIR,
  declarations,
  loadBicep,
  outputs,
  propertyPath,
  stringValue,
  type BicepFile,
  type Declaration,
} from './bicep';
import { loadWorkbook, workbookQueries, type WorkbookItem } from './workbookJson';

/**
 * The dashboard (infra/app/workbook.bicep + workbook.json). Its log queries run over real log lines in
 * alerts.test.ts; here: the deployment, valid KQL, and the Cosmos DB metrics it charts.
 */

const COSMOS = 'microsoft.documentdb/databaseaccounts';

let workbookFile: BicepFile;
let main: BicepFile;
beforeAll(async () => {
  [workbookFile, main] = await Promise.all([
    loadBicep(path.join(INFRA_DIR, 'app', 'workbook.bicep')),
    loadBicep(path.join(INFRA_DIR, 'main.bicep')),
  ]);
});

const workbook = loadWorkbook();
const item = (name: string): WorkbookItem => workbook.items.find((i) => i.name === name)!;

describe('workbook.json', () => {
  it('has a log query for each section, all of them run over real lines in alerts.test.ts', () => {
    expect([...workbookQueries().keys()].sort()).toEqual(
      [
        'lag',
        'collected',
        'written',
        'queue',
        'quarantined',
        'poison-queue',
        'tasks',
        'gaps',
        'functions',
      ].sort(),
    );
  });

  it('every log query is valid KQL for Application Insights (Kusto.Language) and follows the time range', () => {
    const timeParameter = workbook.items
      .filter((i) => i.type === 9)
      .flatMap((i) => (i.content as { parameters?: { name: string; type: number }[] }).parameters ?? [])
      .find((p) => p.type === 4);
    expect(timeParameter?.name).toBe('TimeRange');
    for (const [name, query] of workbookQueries()) {
      expect([name, kqlDiagnostics(query)]).toEqual([name, []]);
      expect([name, item(name).content.resourceType]).toEqual([name, 'microsoft.insights/components']);
      expect([name, item(name).content.timeContextFromParameter]).toEqual([name, 'TimeRange']);
    }
  });

  it('charts Cosmos DB request units and requests by status code (429s) from the account metrics', () => {
    const metrics = workbook.items.filter((i) => i.type === 10);
    for (const m of metrics) {
      expect(m.content.resourceType).toBe(COSMOS);
      expect(m.content.resourceIds).toEqual(['__COSMOS_ACCOUNT_ID__']);
    }
    expect(metrics.flatMap((m) => m.content.metrics ?? [])).toEqual([
      { namespace: COSMOS, metric: `${COSMOS}-Requests-TotalRequestUnits`, aggregation: 1 },
      {
        namespace: COSMOS,
        metric: `${COSMOS}-Requests-TotalRequests`,
        aggregation: 7,
        splitBy: 'StatusCode',
      },
    ]);
  });
});

describe('workbook.bicep', () => {
  const resource = (): Declaration =>
    declarations(workbookFile.root, 'resource_declaration').find((d) =>
      d.target.startsWith('Microsoft.Insights/workbooks@'),
    )!;

  it('deploys a shared workbook on the Application Insights component, its content from workbook.json', () => {
    const r = resource();
    expect(stringValue(propertyPath(r.body, 'kind')!)).toBe('shared');
    expect(propertyPath(r.body, 'properties', 'sourceId')!.text).toBe('applicationInsightsId');
    expect(propertyPath(r.body, 'properties', 'serializedData')!.text).toBe('serializedData');
    // Every placeholder of workbook.json is replaced with a resource id.
    const source = workbookFile.source;
    expect(source).toContain("loadTextContent('workbook.json')");
    expect(source).toContain("'__COSMOS_ACCOUNT_ID__', cosmosAccountId");
    expect(source).toContain("'__APP_INSIGHTS_ID__',\n  applicationInsightsId");
  });

  it("links the workbook in the cloud's own portal", () => {
    const url = outputs(workbookFile.root).find((o) => o.name === 'url')!;
    expect(url.value.text).toBe(
      "'${environment().portal}/#@${tenant().tenantId}/resource${workbook.id}/workbook'",
    );
  });

  it('main.bicep wires it to App Insights and the Cosmos DB account, and outputs its link', () => {
    const m = declarations(main.root, 'module_declaration').find((d) => d.target === './app/workbook.bicep')!;
    expect(propertyPath(m.body, 'params', 'applicationInsightsId')!.text).toBe(
      'monitoring.outputs.resourceId',
    );
    expect(propertyPath(m.body, 'params', 'cosmosAccountId')!.text).toBe('cosmos.outputs.resourceId');
    const out = outputs(main.root).find((o) => o.name === 'AZURE_WORKBOOK_URL')!;
    expect(out.value.text).toBe(`${m.name}.outputs.url`);
  });
});
