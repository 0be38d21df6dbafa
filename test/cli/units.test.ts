import { isoTime, parseFlags, UsageError } from '../../scripts/cli/args';
import { toCsv, toTable } from '../../scripts/cli/format';
import { parametersUsed, parseParams } from '../../scripts/cli/query';
import { parseArgs as replayArgs } from '../../scripts/replay-poison';
import { parseArgs as statusArgs } from '../../scripts/status';
import { loadStoreSettings } from '../../shared/config';
import { ConfigError } from '../../shared/errors';

/** The CLI's pieces without servers: flags, output formats, parameters, the settings each command reads. */

describe('flags', () => {
  const SPECS = [
    { name: 'format', value: 'F' },
    { name: 'param', value: 'P', repeat: true },
    { name: 'local' },
  ];

  it('takes --x v, --x=v, repeats, booleans, and everything after -- as positionals', () => {
    const p = parseFlags(
      ['SELECT', '--format=csv', '--param', 'a=1', '--param', 'b=2', '--local', '--', '--x'],
      SPECS,
    );
    expect(p.positionals).toEqual(['SELECT', '--x']);
    expect(p.flags.get('format')).toEqual(['csv']);
    expect(p.flags.get('param')).toEqual(['a=1', 'b=2']);
    expect(p.flags.get('local')).toBe(true);
  });

  it('says what is wrong in one line', () => {
    const message = (argv: string[]): string => {
      try {
        parseFlags(argv, SPECS);
        return '';
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
    };
    expect(message(['--nope'])).toBe('unknown argument --nope');
    expect(message(['--format'])).toBe('--format needs a value (F)');
    expect(message(['--format', '--local'])).toBe('--format needs a value (F)');
    expect(message(['--format', 'a', '--format', 'b'])).toBe('--format is given twice; give it once');
    expect(message(['--local=yes'])).toBe('--local takes no value (got --local=yes)');
    // --help wins over every other mistake.
    expect(parseFlags(['--nope', '-h'], SPECS).help).toBe(true);
  });

  it('reads times as UTC unless they carry a zone', () => {
    expect(isoTime('from', '2026-11-20')).toBe('2026-11-20T00:00:00.000Z');
    expect(isoTime('from', '2026-11-20T08:30')).toBe('2026-11-20T08:30:00.000Z');
    expect(isoTime('from', '2026-11-20T08:30:00+01:00')).toBe('2026-11-20T07:30:00.000Z');
    expect(() => isoTime('from', '20/11/2026')).toThrow(/--from needs an ISO 8601 date/);
  });

  it('status and replay-poison keep the flags the runbooks use, and accept the new ones', () => {
    expect(statusArgs(['--json'])).toMatchObject({ json: true, format: 'json' });
    expect(statusArgs(['--lag-warning-minutes', '240'])).toMatchObject({
      lagWarningMinutes: 240,
      format: 'table',
    });
    expect(statusArgs(['--format', 'csv', '--local'])).toMatchObject({ format: 'csv', local: true });
    expect(() => statusArgs(['--json', '--format', 'csv'])).toThrow(/contradict/);
    expect(replayArgs(['--dry-run', '--max=3', '--archive'])).toMatchObject({
      dryRun: true,
      max: 3,
      archive: true,
    });
    expect(() => replayArgs(['now'])).toThrow('unexpected argument "now"');
  });
});

describe('output formats', () => {
  const rows = [{ a: 'x,y', b: 1 }, { b: 'say "hi"', c: { nested: true } }, 'scalar'];

  it('CSV: RFC 4180 (CRLF, quoted fields with commas, quotes and line breaks), columns in order of appearance', () => {
    expect(toCsv(rows)).toBe(
      'a,b,c,value\r\n"x,y",1,,\r\n,"say ""hi""","{""nested"":true}",\r\n,,,scalar\r\n',
    );
    expect(toCsv([{ t: 'a\r\nb' }])).toBe('t\r\n"a\r\nb"\r\n');
    expect(toCsv([])).toBe('');
  });

  it('table: control characters escaped, long cells cut with …, fitted to a width', () => {
    const table = toTable([{ k: 'a\tb\u001b[31m', v: 'x'.repeat(100) }]).split('\n');
    expect(table[2]).toBe(`a\\tb\\u{1b}[31m  ${'x'.repeat(59)}…`);
    const narrow = toTable([{ k: 'k'.repeat(30), v: 'v'.repeat(30) }], { width: 40 }).split('\n');
    for (const line of narrow.filter(Boolean)) expect([...line].length).toBeLessThanOrEqual(40);
    // A surrogate pair counts as one character and is never cut in half.
    expect(toTable([{ e: '😀😀' }]).split('\n')[2]).toBe('😀😀');
    expect(toTable([])).toBe('(no rows)\n');
  });
});

describe('query parameters', () => {
  it('NAME=VALUE is a string, NAME:=JSON a typed value; the @ is added', () => {
    expect(parseParams(['user=a@b.c', '@n:=5', 'ops:=["x"]', 'eq=a=b'])).toEqual([
      { name: '@user', value: 'a@b.c' },
      { name: '@n', value: 5 },
      { name: '@ops', value: ['x'] },
      { name: '@eq', value: 'a=b' },
    ]);
    expect(() => parseParams(['novalue'])).toThrow(/NAME=VALUE/);
    expect(() => parseParams(['n:={'])).toThrow(/needs a JSON value/);
    expect(() => parseParams(['a=1', '@a=2'])).toThrow(/given twice/);
  });

  it('finds the parameters a query uses, not an @ inside a string', () => {
    expect(
      parametersUsed(`SELECT * FROM c WHERE c.u = @user AND c.x = 'a@b.c' AND c.y = "@not" OR @user = @n1`),
    ).toEqual(['@user', '@n1']);
  });
});

describe('settings per command (loadStoreSettings)', () => {
  it('validates only the parts asked for', () => {
    const env = { AUDITFEED_STORAGE: 'UseDevelopmentStorage=true' };
    expect(loadStoreSettings(env, ['storage'])).toMatchObject({
      storage: { kind: 'connectionString' },
      queueName: 'auditfeed-batches',
    });
    // No tenants, client id or auth mode needed for storage alone; tenants when asked.
    expect(() => loadStoreSettings(env, ['storage', 'tenantIds'])).toThrow(
      /AUDITFEED_TENANT_IDS \(not set\): is required/,
    );
    expect(() => loadStoreSettings({}, ['cosmos'])).toThrow(ConfigError);
    expect(
      loadStoreSettings({ AUDITFEED_COSMOS__accountEndpoint: 'https://x.documents.azure.com:443/' }, [
        'cosmos',
      ]).cosmos,
    ).toMatchObject({ identity: { kind: 'developer' }, database: 'auditfeed', container: 'records' });
    // A bad setting of a part not asked for is not this command's business.
    expect(() =>
      loadStoreSettings({ ...env, AUDITFEED_COSMOS__accountEndpoint: 'nope' }, ['storage']),
    ).not.toThrow();
  });
});
