/**
 * `npm run status`: where collection stands, read from the watermarks and the poison queue, with the same
 * settings as the function app. Exit code 0 when all is well, 1 when something needs looking at, 2 on bad
 * arguments or settings.
 */
import { formatSeconds, readStatus, type PipelineStatus } from '../shared/status';
import { CONTAINERS, createStorageClients } from '../shared/storage/clients';
import { WatermarkStore } from '../shared/storage/watermarkStore';
import { runAsProgram, withSettings, type Out } from './cli';

const USAGE = `Usage: npm run status -- [--json] [--lag-warning-minutes N]

Shows, per tenant and content type, how far the collector has got (cursor and lag), the last run's outcome
and counts, content found late by re-listing, quarantined blobs (unreadable, retried until they expire) with
their errors, recorded gaps (content the service no longer had) and the poison queue. Reads the same settings
as the function app (AUDITFEED_TENANT_IDS, AUDITFEED_STORAGE…).

  --json                    the same as JSON, for scripts
  --lag-warning-minutes N   report a content type as behind above this lag (default 60)`;

interface Args {
  json: boolean;
  lagWarningMinutes: number;
  help: boolean;
}

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { json: false, lagWarningMinutes: 60, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--lag-warning-minutes') {
      const value = argv[++i];
      if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1)
        throw new Error(
          `--lag-warning-minutes needs a whole number of at least 1 (got ${JSON.stringify(value ?? '')})`,
        );
      args.lagWarningMinutes = Number(value);
    } else throw new Error(`Unknown argument ${JSON.stringify(a)}`);
  }
  return args;
}

export function formatStatus(s: PipelineStatus): string {
  const rows = [
    ['Tenant', 'Content type', 'Cursor', 'Lag', 'Last run', 'Records', 'Late found', 'Quarantined', 'Gaps'],
  ];
  for (const c of s.contentTypes) {
    const run = c.lastRun;
    rows.push([
      c.tenantId,
      c.contentType,
      c.cursor ?? '(not started)',
      c.lagSeconds === null ? '-' : formatSeconds(c.lagSeconds),
      run ? `${run.outcome} ${run.finishedAt}` : '-',
      run ? String(run.records) : '-',
      run && run.lateBlobs > 0
        ? `${run.lateBlobs} (up to ${formatSeconds(run.maxLatenessSeconds ?? 0)} late)`
        : run
          ? '0'
          : '-',
      String(c.quarantine.length),
      String(c.gapCount),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  for (const c of s.contentTypes) {
    const sweep = c.sweepInProgress
      ? 'in progress'
      : c.lastSweepCompletedAt
        ? `last finished ${c.lastSweepCompletedAt}`
        : 'not yet run';
    if (c.started) lines.push(`Full re-listing ${c.tenantId} ${c.contentType}: ${sweep}`);
    for (const q of c.quarantine) {
      lines.push(
        `Quarantined ${c.tenantId} ${c.contentType}: ${q.contentId} (created ${q.contentCreated}, expires ` +
          `${q.contentExpiration}; ${q.attempts} attempt(s), next ${q.nextAttemptAt}): ${q.error}`,
      );
    }
    for (const g of c.gaps) {
      lines.push(
        `Gap ${c.tenantId} ${c.contentType}: ${g.start} to ${g.end} (${g.reason}${g.contentId ? `, content ${g.contentId}` : ''}${g.error ? `: ${g.error}` : ''})`,
      );
    }
  }
  lines.push(
    `Poison queue: ${s.poisonMessages === undefined ? 'unknown' : `${s.poisonMessages} message(s)`}`,
  );
  lines.push(
    s.problems.length === 0
      ? 'All well.'
      : `Needs attention:\n${s.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  return lines.join('\n');
}

/** The CLI; returns the exit code. */
export function main(
  argv: readonly string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
  out: Out = (line) => console.log(line),
  now: Date = new Date(),
): Promise<number> {
  return withSettings({ usage: USAGE, parse: parseArgs, argv, env, out }, async (args, config) => {
    const { blobs, queues } = createStorageClients(config.storage);
    const status = await readStatus({
      tenants: config.tenants.map((t) => t.tenantId),
      contentTypes: config.contentTypes,
      watermarks: new WatermarkStore(blobs.getContainerClient(CONTAINERS.watermarks)),
      queues,
      queueName: config.queueName,
      lagWarningSeconds: args.lagWarningMinutes * 60,
      sweepIntervalMs: config.sweepIntervalMs,
      now,
    });
    out(args.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    return status.problems.length === 0 ? 0 : 1;
  });
}

if (require.main === module) runAsProgram('status', () => main());
