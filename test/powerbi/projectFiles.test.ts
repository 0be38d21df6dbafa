import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { filesUnder, loadModel, PROJECT_DIR, REPORT_DIR, tableOf } from './project';

/**
 * Every JSON file of the Power BI project parses and declares a schema (and, where the format has one, a
 * version) from a list of versions this project was written against and checked with; the files point at
 * each other correctly (pbip → report → semantic model, pages.json → pages); and every field a report page
 * or visual uses is a column or measure of the model.
 */

const SCHEMAS = 'https://developer.microsoft.com/json-schemas/fabric/';

interface KnownSchema {
  /** Which files may declare it. */
  file: RegExp;
  /** Allowed values of the file's `version`, when the format has one. */
  versions?: string[];
}

/**
 * Schemas published at github.com/microsoft/json-schemas (tree fabric/) and the file versions documented at
 * learn.microsoft.com/power-bi/developer/projects/projects-report (definition.pbir 4.0 or above: PBIR
 * definition folder) and projects-dataset (definition.pbism 4.0 or above: TMDL definition folder).
 */
const KNOWN: Record<string, KnownSchema> = {
  [`${SCHEMAS}pbip/pbipProperties/1.0.0/schema.json`]: { file: /\.pbip$/, versions: ['1.0'] },
  [`${SCHEMAS}item/report/definitionProperties/2.0.0/schema.json`]: {
    file: /\.Report\/definition\.pbir$/,
    versions: ['4.0'],
  },
  [`${SCHEMAS}item/semanticModel/definitionProperties/1.0.0/schema.json`]: {
    file: /\.SemanticModel\/definition\.pbism$/,
    versions: ['4.0'],
  },
  [`${SCHEMAS}gitIntegration/platformProperties/2.0.0/schema.json`]: { file: /\/\.platform$/ },
  [`${SCHEMAS}item/report/definition/versionMetadata/1.0.0/schema.json`]: {
    file: /\.Report\/definition\/version\.json$/,
    versions: ['2.0.0'],
  },
  [`${SCHEMAS}item/report/definition/report/3.0.0/schema.json`]: {
    file: /\.Report\/definition\/report\.json$/,
  },
  [`${SCHEMAS}item/report/definition/pagesMetadata/1.0.0/schema.json`]: {
    file: /\.Report\/definition\/pages\/pages\.json$/,
  },
  [`${SCHEMAS}item/report/definition/page/2.0.0/schema.json`]: {
    file: /\.Report\/definition\/pages\/\w+\/page\.json$/,
  },
  [`${SCHEMAS}item/report/definition/visualContainer/2.0.0/schema.json`]: {
    file: /\.Report\/definition\/pages\/\w+\/visuals\/\w+\/visual\.json$/,
  },
};

const JSON_FILE = /(\.json|\.pbip|\.pbir|\.pbism|\/\.platform|^\.platform)$/;
const projectFiles = filesUnder(PROJECT_DIR);
const jsonFiles = projectFiles.filter((f) => JSON_FILE.test(f));

function read(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(PROJECT_DIR, file), 'utf8')) as Record<string, unknown>;
}

describe('JSON files of the Power BI project', () => {
  it('are the files of a PBIP with a TMDL model and a PBIR report', () => {
    expect(projectFiles).toEqual(
      expect.arrayContaining([
        'auditfeed.pbip',
        'auditfeed.Report/.platform',
        'auditfeed.Report/definition.pbir',
        'auditfeed.Report/definition/version.json',
        'auditfeed.Report/definition/report.json',
        'auditfeed.Report/definition/pages/pages.json',
        'auditfeed.SemanticModel/.platform',
        'auditfeed.SemanticModel/definition.pbism',
        'auditfeed.SemanticModel/definition/database.tmdl',
        'auditfeed.SemanticModel/definition/model.tmdl',
        'auditfeed.SemanticModel/definition/expressions.tmdl',
        'auditfeed.SemanticModel/definition/relationships.tmdl',
        'auditfeed.SemanticModel/definition/tables/Records.tmdl',
      ]),
    );
    // No legacy report.json next to the PBIR definition folder, no TMSL model.bim next to the TMDL one.
    expect(projectFiles).not.toContain('auditfeed.Report/report.json');
    expect(projectFiles).not.toContain('auditfeed.SemanticModel/model.bim');
  });

  it.each(jsonFiles)('%s parses and declares a known schema and version', (file) => {
    const json = read(file);
    const schema = json.$schema;
    expect(typeof schema).toBe('string');
    const known = KNOWN[schema as string];
    expect({ file, schema, known: known !== undefined }).toEqual({ file, schema, known: true });
    expect(file).toMatch(known!.file);
    if (known!.versions) expect(known!.versions).toContain(json.version);
    if (file.endsWith('.platform')) {
      expect(json).toMatchObject({ config: { version: '2.0' } });
      expect((json.config as { logicalId: string }).logicalId).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
    }
  });

  it('has distinct logical ids and item types matching the folders', () => {
    const report = read('auditfeed.Report/.platform') as {
      metadata: { type: string };
      config: { logicalId: string };
    };
    const model = read('auditfeed.SemanticModel/.platform') as typeof report;
    expect(report.metadata.type).toBe('Report');
    expect(model.metadata.type).toBe('SemanticModel');
    expect(report.config.logicalId).not.toBe(model.config.logicalId);
  });

  it('links pbip → report → semantic model by relative paths that exist', () => {
    const pbip = read('auditfeed.pbip') as { artifacts: { report: { path: string } }[] };
    const reportPath = pbip.artifacts[0]!.report.path;
    expect(statSync(join(PROJECT_DIR, reportPath)).isDirectory()).toBe(true);
    const pbir = read(posix.join(reportPath, 'definition.pbir')) as {
      datasetReference: { byPath: { path: string } };
    };
    const modelPath = posix.join(reportPath, pbir.datasetReference.byPath.path);
    expect(existsSync(join(PROJECT_DIR, modelPath, 'definition.pbism'))).toBe(true);
    expect(existsSync(join(PROJECT_DIR, modelPath, 'definition', 'model.tmdl'))).toBe(true);
  });

  it('lists every page folder in pages.json, each named as its folder, visuals too', () => {
    const pagesJson = read('auditfeed.Report/definition/pages/pages.json') as {
      pageOrder: string[];
      activePageName: string;
    };
    const pageFiles = jsonFiles.filter((f) => f.endsWith('/page.json'));
    const folders = pageFiles.map((f) => basename(dirname(f)));
    expect([...pagesJson.pageOrder].sort()).toEqual([...folders].sort());
    expect(pagesJson.pageOrder).toContain(pagesJson.activePageName);
    for (const file of jsonFiles.filter((f) => /\/(page|visual)\.json$/.test(f))) {
      expect({ file, name: read(file).name }).toEqual({ file, name: basename(dirname(file)) });
    }
  });
});

/** Every `{Column|Measure: {Expression: {SourceRef: {Entity|Source}}, Property}}` in a JSON value. */
function fieldRefs(
  value: unknown,
  aliases: Map<string, string>,
  out: { kind: string; table: string; name: string }[],
) {
  if (Array.isArray(value)) {
    for (const v of value) fieldRefs(v, aliases, out);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const record = value as Record<string, unknown>;
  // A filter's From clause names the aliases its Where clause uses.
  if (Array.isArray(record.From)) {
    for (const from of record.From as { Name: string; Entity: string }[]) aliases.set(from.Name, from.Entity);
  }
  for (const kind of ['Column', 'Measure']) {
    const ref = record[kind] as {
      Expression?: { SourceRef?: { Entity?: string; Source?: string } };
      Property?: string;
    };
    const source = ref?.Expression?.SourceRef;
    if (source && typeof ref.Property === 'string') {
      const table = source.Entity ?? aliases.get(source.Source ?? '') ?? `unknown alias ${source.Source}`;
      out.push({ kind, table, name: ref.Property });
    }
  }
  for (const v of Object.values(record)) fieldRefs(v, aliases, out);
}

describe('report pages against the semantic model', () => {
  const model = loadModel();
  const reportFiles = filesUnder(REPORT_DIR).filter((f) => /\/(page|visual)\.json$/.test(f));

  it('has the four pages of the issue', () => {
    const names = reportFiles
      .filter((f) => f.endsWith('/page.json'))
      .map(
        (f) => (JSON.parse(readFileSync(join(REPORT_DIR, f), 'utf8')) as { displayName: string }).displayName,
      );
    expect(names.sort()).toEqual(
      ['Mail access and downloads', 'Mail rules and forwarding', 'Sign-ins by IP', 'User timeline'].sort(),
    );
  });

  it.each(reportFiles)('%s uses only columns and measures of the model', (file) => {
    const refs: { kind: string; table: string; name: string }[] = [];
    fieldRefs(JSON.parse(readFileSync(join(REPORT_DIR, file), 'utf8')), new Map(), refs);
    for (const ref of refs) {
      const table = model.tables.find((t) => t.name === ref.table);
      const names = !table
        ? []
        : ref.kind === 'Column'
          ? table.columns.map((c) => c.name)
          : table.measures.map((m) => m.name);
      expect({ ref, found: names.includes(ref.name) }).toEqual({ ref, found: true });
    }
    if (file.endsWith('/visual.json')) expect(refs.length).toBeGreaterThan(0);
  });

  it('filters pages only on categories the Operations query produces', () => {
    const operations = tableOf(model, 'Operations').partitions[0]!.source;
    const pageFiles = reportFiles.filter((f) => f.endsWith('/page.json'));
    const literals = pageFiles.flatMap((f) =>
      [...readFileSync(join(REPORT_DIR, f), 'utf8').matchAll(/"Value": "'([^']*)'"/g)].map((m) => m[1]!),
    );
    expect(literals.length).toBeGreaterThan(0);
    for (const literal of literals) expect(operations).toContain(`then "${literal}"`);
  });
});
