import { loadModel, tableOf } from './project';

/**
 * Relationships reference tables and columns that exist, run from the Records fact table to one key of each
 * dimension, join columns of the same type, and each dimension's M makes its key unique the way the model
 * compares text (ignoring case), so a refresh cannot fail on a duplicate key.
 */

const model = loadModel();
const DIMENSIONS = { Users: 'User', IPs: 'ClientIP', Operations: 'Operation' } as const;

describe('relationships of the semantic model', () => {
  it('joins Records to each dimension on its key, once', () => {
    expect(
      model.relationships.map((r) => `${r.fromTable}[${r.fromColumn}] -> ${r.toTable}[${r.toColumn}]`).sort(),
    ).toEqual(
      Object.entries(DIMENSIONS)
        .map(([table, key]) => `Records[${key}] -> ${table}[${key}]`)
        .sort(),
    );
    expect(new Set(model.relationships.map((r) => r.name)).size).toBe(model.relationships.length);
  });

  it.each(model.relationships.map((r) => [r.name, r] as const))(
    '%s references existing tables and columns of the same type',
    (_name, r) => {
      const from = tableOf(model, r.fromTable).columns.find((c) => c.name === r.fromColumn);
      const to = tableOf(model, r.toTable).columns.find((c) => c.name === r.toColumn);
      expect(from).toBeDefined();
      expect(to).toBeDefined();
      expect(from!.dataType).toBe(to!.dataType);
    },
  );

  it.each(Object.entries(DIMENSIONS))(
    '%s is built from Records in M, with a non-empty key unique ignoring case',
    (table, key) => {
      const m = tableOf(model, table).partitions[0]!.source;
      expect(m).toContain('Source = AuditRecords');
      expect(m).toContain(`each [${key}] <> null and [${key}] <> ""`);
      expect(m).toContain(`Table.Distinct(`);
      expect(m).toMatch(
        new RegExp(`Table\\.Distinct\\(\\w+, \\{"${key}", Comparer\\.OrdinalIgnoreCase\\}\\)`),
      );
      // The key is a column of Records too, where the relationship starts.
      expect(tableOf(model, 'Records').columns.map((c) => c.name)).toContain(key);
    },
  );

  it('gives every measure a table that exists and references only existing columns and measures', () => {
    const records = tableOf(model, 'Records');
    const measures = new Set(records.measures.map((m) => m.name));
    for (const measure of records.measures) {
      for (const [, table, column] of measure.expression.matchAll(/(\w+)\[([^\]]+)\]/g)) {
        expect(tableOf(model, table!).columns.map((c) => c.name)).toContain(column);
      }
      for (const [, ref] of measure.expression.matchAll(/(?<![\w\]])\[([^\]]+)\]/g)) {
        expect(measures).toContain(ref);
      }
    }
  });
});
