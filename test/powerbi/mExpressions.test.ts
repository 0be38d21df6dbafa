import { DefaultSettings, TaskUtils } from '@microsoft/powerquery-parser';
import { loadModel, mExpressions, tableOf } from './project';

/**
 * Every Power Query (M) expression of the semantic model — each partition's `source =` and each shared
 * expression of expressions.tmdl — lexes and parses with Microsoft's parser (@microsoft/powerquery-parser,
 * the parser of the Power Query language services).
 */

async function parseError(m: string): Promise<string | undefined> {
  const task = await TaskUtils.tryLexParse(DefaultSettings, m);
  if (TaskUtils.isOk(task)) return undefined;
  return TaskUtils.isError(task) ? task.error.message : 'not parsed';
}

const model = loadModel();
const expressions = mExpressions(model);

describe('Power Query (M) of the semantic model', () => {
  it('finds the expressions: one partition per table and the shared expressions', () => {
    expect(model.tables.map((t) => t.name).sort()).toEqual(['IPs', 'Operations', 'Records', 'Users']);
    for (const table of model.tables) {
      expect(table.partitions).toHaveLength(1);
      expect(table.partitions[0]!.kind).toBe('m');
      expect(table.partitions[0]!.mode).toBe('import');
      expect(table.partitions[0]!.source).toMatch(/^let\b[\s\S]*\bin\b/);
    }
    expect(model.expressions.map((e) => e.name).sort()).toEqual([
      'AuditRecords',
      'ContainerTable',
      'DaysToLoad',
      'MirroredDatabase',
      'SqlEndpoint',
    ]);
  });

  it.each(expressions.map((e) => [e.where, e.m] as const))('%s parses', async (_where, m) => {
    expect(await parseError(m)).toBeUndefined();
  });

  it('is a real check: the parser refuses broken M', async () => {
    expect(await parseError('let a = in a')).toBeDefined();
    expect(await parseError('let\n    Source = AuditRecords,\nin\n    Source')).toBeDefined();
  });

  it('declares the connection parameters as required parameter queries', () => {
    for (const name of ['SqlEndpoint', 'MirroredDatabase', 'ContainerTable', 'DaysToLoad']) {
      const parameter = model.expressions.find((e) => e.name === name)!;
      expect(parameter.m).toMatch(
        / meta \[IsParameterQuery = true, Type = "(Text|Number)", IsParameterQueryRequired = true\]$/,
      );
    }
  });

  it('reads the mirror through the SQL analytics endpoint with the parameters, in one shared query', () => {
    const audit = model.expressions.find((e) => e.name === 'AuditRecords')!.m;
    expect(audit).toContain('Sql.Database(SqlEndpoint, MirroredDatabase)');
    expect(audit).toContain('[Item] = ContainerTable');
    // Every table starts from AuditRecords; no table opens its own connection.
    for (const table of model.tables) {
      expect(table.partitions[0]!.source).toMatch(/Source = AuditRecords,?\n/);
      expect(table.partitions[0]!.source).not.toContain('Sql.Database');
    }
    expect(tableOf(model, 'Records').partitions[0]!.source).toBe(
      'let\n    Source = AuditRecords\nin\n    Source',
    );
  });
});
