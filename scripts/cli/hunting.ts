import type { Command, Io, Progress } from '../cli';
import { flagValue, isoTime, parseFlags, UsageError, wholeNumber, type Parsed } from './args';
import { COSMOS_FLAGS, COSMOS_FLAGS_USAGE, cosmosOptions, withContainer } from './cosmos';
import type { Row } from './format';
import {
  formatReport,
  hunt,
  investigate,
  timeline,
  type InvestigationReport,
  type RunOptions,
} from '../../shared/hunting';

/**
 * `auditfeed timeline`, `hunt`, `investigate`: the hunting pack's views of the store (shared/hunting).
 * Arguments are checked here; the work is the pack's.
 */

/** Default window: the 7 days before --to (the Management API's own retention). */
const DEFAULT_DAYS = 7;

const RANGE_USAGE = `  --from TIME        start of the window, ISO 8601 in UTC: 2026-11-20 or 2026-11-20T08:00:00Z
                     (default: ${DEFAULT_DAYS} days before --to)
  --to TIME          end of the window, exclusive (default: now)`;

const USER_FLAG = { name: 'user', value: 'UPN' };
const RANGE_FLAGS = [
  { name: 'from', value: 'TIME' },
  { name: 'to', value: 'TIME' },
];

function range(p: Parsed, now: Date): { from: string; to: string } {
  const fromFlag = flagValue(p, 'from');
  const toFlag = flagValue(p, 'to');
  const to = toFlag !== undefined ? isoTime('to', toFlag) : now.toISOString();
  const from =
    fromFlag !== undefined
      ? isoTime('from', fromFlag)
      : new Date(Date.parse(to) - DEFAULT_DAYS * 86_400_000).toISOString();
  if (from >= to) throw new UsageError(`--from (${from}) must be before --to (${to})`);
  return { from, to };
}

function user(p: Parsed, command: string): string {
  const u = flagValue(p, 'user')?.trim();
  if (!u) throw new UsageError(`${command} needs --user <upn>, e.g. --user alice@contoso.com`);
  return u;
}

function onPage(progress: Progress): RunOptions {
  return { onPage: (page) => progress.page(page.page, page.rowsSoFar) };
}

/** One row per finding: what a table or CSV shows of a report (evidence: how many rows; JSON has them). */
export function findingRows(report: InvestigationReport): Row[] {
  return report.findings.map((f) => ({
    user: report.user,
    verdict: report.verdict,
    severity: f.severity,
    rule: f.rule,
    title: f.title,
    why: f.why,
    evidence: f.evidence.length,
  }));
}

function noPositionals(p: Parsed): void {
  if (p.positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
}

const TIMELINE_USAGE = `Usage: auditfeed timeline --user <upn> [--from TIME] [--to TIME] [options]

One user's audit records in time order (from the hunting pack): what they did, from where, with what.

  --user UPN         the user, as in the records' UserId: alice@contoso.com
${RANGE_USAGE}
${COSMOS_FLAGS_USAGE}`;

export const timelineCommand: Command = {
  name: 'timeline',
  summary: "one user's activity in time order (hunting pack)",
  usage: TIMELINE_USAGE,
  async run(argv: readonly string[], io: Io) {
    const p = parseFlags(argv, [...COSMOS_FLAGS, USER_FLAG, ...RANGE_FLAGS]);
    if (p.help) {
      io.out(`${TIMELINE_USAGE}\n`);
      return 0;
    }
    noPositionals(p);
    const who = user(p, 'timeline');
    const window = range(p, io.now());
    const o = cosmosOptions(p, io);
    return withContainer(io, 'timeline', o, async (c, progress) => ({
      rows: await timeline(c, who, window, onPage(progress)),
    }));
  },
};

const HUNT_USAGE = `Usage: auditfeed hunt [--from TIME] [--to TIME] [options]

Runs the pack's tenant-wide hunting queries over the window, investigates every account they name, and
prints one row per finding of the accounts that look compromised (then one per account reviewed and not
flagged). --format json prints the pack's whole result (findings with their evidence rows).

${RANGE_USAGE}
  --max-accounts N   investigate at most N of the accounts the queries name (default 50); the others are
                     listed on stderr so that none is left out silently
${COSMOS_FLAGS_USAGE}`;

export const huntCommand: Command = {
  name: 'hunt',
  summary: 'every hunting query over a window: one row per finding (hunting pack)',
  usage: HUNT_USAGE,
  async run(argv: readonly string[], io: Io) {
    const p = parseFlags(argv, [...COSMOS_FLAGS, ...RANGE_FLAGS, { name: 'max-accounts', value: 'N' }]);
    if (p.help) {
      io.out(`${HUNT_USAGE}\n`);
      return 0;
    }
    noPositionals(p);
    const window = range(p, io.now());
    const maxFlag = flagValue(p, 'max-accounts');
    const maxAccounts = maxFlag === undefined ? undefined : wholeNumber('max-accounts', maxFlag);
    const o = cosmosOptions(p, io);
    return withContainer(io, 'hunt', o, async (c, progress) => {
      const result = await hunt(c, window, {
        ...onPage(progress),
        ...(maxAccounts !== undefined ? { maxAccounts } : {}),
      });
      if (result.skipped.length > 0) {
        io.err(
          `hunt: ${result.skipped.length} more account(s) named by the queries were not investigated ` +
            `(--max-accounts ${maxAccounts ?? 50}): ${result.skipped.join(', ')}. Raise --max-accounts or run ` +
            `auditfeed investigate --user <upn> on them.\n`,
        );
      }
      const flagged = new Set(result.flagged.map((r) => r.user));
      const rows: Row[] = [
        ...result.flagged.flatMap(findingRows),
        ...result.reviewed
          .filter((r) => !flagged.has(r.user))
          .map((r) => ({
            user: r.user,
            verdict: r.verdict,
            severity: '',
            rule: r.rules.join(' '),
            title: '',
            why: '',
            evidence: '',
          })),
      ];
      return { rows, json: result };
    });
  },
};

const INVESTIGATE_USAGE = `Usage: auditfeed investigate --user <upn> [--from TIME] [--to TIME] [options]

What the store says about one account (from the hunting pack): a verdict, the findings with why they look
attacker-like and their evidence, sign-ins per IP. --format csv prints one row per finding; --format json
the whole report.

  --user UPN         the user, as in the records' UserId: alice@contoso.com
${RANGE_USAGE}
${COSMOS_FLAGS_USAGE}`;

export const investigateCommand: Command = {
  name: 'investigate',
  summary: 'findings and activity around one user (hunting pack)',
  usage: INVESTIGATE_USAGE,
  async run(argv: readonly string[], io: Io) {
    const p = parseFlags(argv, [...COSMOS_FLAGS, USER_FLAG, ...RANGE_FLAGS]);
    if (p.help) {
      io.out(`${INVESTIGATE_USAGE}\n`);
      return 0;
    }
    noPositionals(p);
    const who = user(p, 'investigate');
    const window = range(p, io.now());
    const o = cosmosOptions(p, io);
    return withContainer(io, 'investigate', o, async (c, progress) => {
      const report = await investigate(c, who, window, onPage(progress));
      return {
        rows: findingRows(report),
        json: report,
        table: formatReport(report),
      };
    });
  },
};
