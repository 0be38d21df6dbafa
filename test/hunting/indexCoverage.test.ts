import type { IndexingPolicy } from '@azure/cosmos';
import { indexProblems, listQueries } from '../../shared/hunting';
import { parseQueryFile } from '../../shared/hunting/queries';
import { INDEXING_POLICY } from '../../shared/writer/cosmosContainer';

const without = (path: string): IndexingPolicy => ({
  ...INDEXING_POLICY,
  includedPaths: (INDEXING_POLICY.includedPaths ?? []).filter((p) => p.path !== path),
});

describe('hunting pack: index coverage', () => {
  const queries = listQueries();

  it('has the documented queries, each with a header saying what it finds and which fields it uses', () => {
    expect(queries.map((q) => q.name)).toEqual([
      'admin-role-changes',
      'consent-and-app-credentials',
      'directory-changes-by-user',
      'failed-signin-bursts',
      'file-downloads',
      'forwarding-to-address',
      'inbox-rules',
      'legacy-protocol-signins',
      'mail-access-from-ip',
      'mail-items-accessed',
      'mail-sent',
      'mailbox-forwarding',
      'password-spraying',
      'payment-searches',
      'signins-by-user',
      'user-timeline',
    ]);
    for (const q of queries) {
      expect(q.finds.length).toBeGreaterThan(40);
      expect(q.fields.length).toBeGreaterThan(2);
      expect(q.params).toEqual(expect.arrayContaining(['@from', '@to']));
      // Every parameter the header declares is used, and every one used is declared.
      const used = [...new Set(q.sql.match(/@[a-z]+/gi) ?? [])].sort();
      expect({ name: q.name, used }).toEqual({ name: q.name, used: [...q.params].sort() });
      expect(q.scope === 'user').toBe(q.params.includes('@user'));
      // Only the stand-in gap (GROUP BY) justifies a second form.
      if (q.cosmosSql !== undefined) {
        expect(q.cosmosSql).toMatch(/GROUP BY/);
        expect(q.standIn).toMatch(/GROUP BY/);
      }
      expect(q.sql).not.toMatch(/GROUP BY|DISTINCT|OFFSET/i);
    }
  });

  it('filters and sorts only on paths the container indexes, in both forms of every query', () => {
    const problems = queries.flatMap((q) =>
      [q.sql, q.cosmosSql]
        .filter((sql): sql is string => sql !== undefined)
        .flatMap((sql) => indexProblems(sql, INDEXING_POLICY).map((p) => `${q.name}: ${p.message}`)),
    );
    expect(problems).toEqual([]);
  });

  it('fails, naming the query and the path, when a pack query filters on an unindexed path', () => {
    const forwarding = queries.find((q) => q.name === 'forwarding-to-address')!;
    expect(indexProblems(forwarding.sql, without('/forwardTo/?')).map((p) => p.message)).toEqual([
      'filters on /forwardTo, which the indexing policy excludes',
    ]);
    const timeline = queries.find((q) => q.name === 'user-timeline')!;
    expect(indexProblems(timeline.sql, without('/CreationTime/?')).map((p) => p.message)).toEqual([
      'filters on /CreationTime, which the indexing policy excludes',
      'sorts on /CreationTime, which the indexing policy excludes',
    ]);
    // Projected-only fields (fileName here) need no index; filtering on one does.
    const downloads = queries.find((q) => q.name === 'file-downloads')!;
    expect(indexProblems(downloads.sql, INDEXING_POLICY)).toEqual([]);
    const byFile = parseQueryFile(
      [
        '-- name: downloads-of-file',
        '-- finds: downloads of one file by name, to show the coverage check refusing it',
        '-- fields: fileName, CreationTime, user',
        '-- params: @name @from @to',
        '-- scope: tenant',
        "SELECT c.user FROM c WHERE c.fileName = @name AND c.Operation = 'FileDownloaded' -- c.userAgent",
        "  AND c.CreationTime >= @from AND c.CreationTime < @to AND c.siteUrl != 'c.QueryText'",
      ].join('\n'),
    );
    expect(indexProblems(byFile.sql, INDEXING_POLICY)).toEqual([
      {
        path: '/fileName',
        clause: 'WHERE',
        message: 'filters on /fileName, which the indexing policy excludes',
      },
      {
        path: '/siteUrl',
        clause: 'WHERE',
        message: 'filters on /siteUrl, which the indexing policy excludes',
      },
    ]);
  });

  it('wants a composite index for an ORDER BY on two paths, in that order and direction', () => {
    const sql = 'SELECT c.id FROM c WHERE c.user = @user ORDER BY c.user ASC, c.CreationTime DESC';
    expect(indexProblems(sql, INDEXING_POLICY).map((p) => p.message)).toEqual([
      'sorts on /user ASC, /CreationTime DESC, which needs a composite index with those paths in that order',
    ]);
    const composite = (order: ('ascending' | 'descending')[]): IndexingPolicy => ({
      ...INDEXING_POLICY,
      compositeIndexes: [
        [
          { path: '/user', order: order[0]! },
          { path: '/CreationTime', order: order[1]! },
        ],
      ],
    });
    expect(indexProblems(sql, composite(['ascending', 'descending']))).toEqual([]);
    expect(indexProblems(sql, composite(['descending', 'ascending']))).toEqual([]);
    expect(indexProblems(sql, composite(['ascending', 'ascending']))).toHaveLength(1);
    // One path needs only its range index.
    expect(indexProblems('SELECT c.id FROM c ORDER BY c.CreationTime DESC', INDEXING_POLICY)).toEqual([]);
  });

  it('refuses a malformed query file', () => {
    expect(() => parseQueryFile('-- name: x\nSELECT 1')).toThrow(/no "-- finds:" line/);
    const header = '-- name: x\n-- finds: f\n-- fields: a, b\n-- params: @from @to\n-- scope: tenant\n';
    expect(() => parseQueryFile(`${header}-- cosmos:\nSELECT 1 GROUP BY c.a\n-- runner:\nSELECT 2`)).toThrow(
      /stand-in/,
    );
    expect(() => parseQueryFile(`${header}-- stand-in: why\n-- cosmos:\nSELECT 1`)).toThrow(/runner/);
  });
});
