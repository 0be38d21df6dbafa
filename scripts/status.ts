/**
 * `auditfeed status` (also `npm run status`): where collection stands, read from the watermarks and the
 * poison queue. Exit code 0 when all is well, 1 when something needs looking at, 2 on bad arguments or
 * settings.
 */
import { formatSeconds, readStatus, type PipelineStatus } from '../shared/status';
import { TaskClaimStore } from '../shared/storage/taskClaimStore';
import { BackfillProgressStore } from '../shared/backfill/progressStore';
import { CONTAINERS, createStorageClients } from '../shared/storage/clients';
import { WatermarkStore } from '../shared/storage/watermarkStore';
import { flagSet, flagValue, parseFlags, UsageError, wholeNumber } from './cli/args';
import { formatRows, parseFormat, type Format } from './cli/format';
import { resolveStorage } from './cli/target';
import { lineIo, runAsProgram, runCommand, type Command, type Out } from './cli';

const USAGE = `Usage: auditfeed status [--format table|csv|json] [--lag-warning-minutes N] [--local] [--state-dir DIR]
       (also npm run status -- …)

Shows, per tenant and content type, how far the collector has got (cursor and lag), the last run's outcome
and counts, content found late by re-listing, quarantined blobs (unreadable, retried until they expire) with
their errors, recorded gaps (content the service no longer had) and which a backfill filled, the backfills
(\`auditfeed backfill\`) and the poison queue.

Where it reads: the storage account in the settings (AUDITFEED_STORAGE, a connection string; or
AUDITFEED_STORAGE__blobServiceUri and AUDITFEED_STORAGE__queueServiceUri with your Azure sign-in) and the
tenants in AUDITFEED_TENANT_IDS; with none of those, the running local stack (\`npm start -- --follow\`,
found in .local/last-run.json). Other settings are not needed.

  --format F                table (default), csv (one row per tenant and content type) or json (everything)
  --json                    the same as --format json
  --lag-warning-minutes N   report a content type as behind above this lag (default 60)
  --local                   read the running local stack even when storage settings are set
  --state-dir DIR           where the local stack's last-run.json is (default .local; also AUDITFEED_LOCAL_DIR)
  --help                    this text

Exit code: 0 all well, 1 something needs looking at, 2 bad arguments or settings.`;

interface Args {
  json: boolean;
  format: Format;
  lagWarningMinutes: number;
  local: boolean;
  stateDir: string | undefined;
  help: boolean;
}

const FLAGS = [
  { name: 'json' },
  { name: 'format', value: 'table|csv|json' },
  { name: 'lag-warning-minutes', value: 'N' },
  { name: 'local' },
  { name: 'state-dir', value: 'DIR' },
];

/** Throws UsageError on bad arguments (docs/runbooks.md's flags are checked with it). */
export function parseArgs(argv: readonly string[]): Args {
  const p = parseFlags(argv, FLAGS);
  if (p.positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
  const json = flagSet(p, 'json');
  const format = parseFormat(flagValue(p, 'format'), json ? 'json' : 'table');
  if (json && format !== 'json') throw new UsageError('--json and --format contradict each other; give one');
  const lag = flagValue(p, 'lag-warning-minutes');
  return {
    json: format === 'json',
    format,
    lagWarningMinutes: lag === undefined ? 60 : wholeNumber('lag-warning-minutes', lag),
    local: flagSet(p, 'local'),
    stateDir: flagValue(p, 'state-dir'),
    help: p.help,
  };
}

/** The per-tenant, per-content-type rows of the status (the table's columns, also --format csv). */
export function statusRows(s: PipelineStatus): Array<Record<string, string>> {
  return s.contentTypes.map((c) => {
    const run = c.lastRun;
    return {
      Tenant: c.tenantId,
      'Content type': c.contentType,
      Cursor: c.cursor ?? '(not started)',
      Lag: c.lagSeconds === null ? '-' : formatSeconds(c.lagSeconds),
      'Last run': run ? `${run.outcome} ${run.finishedAt}` : '-',
      Records: run ? String(run.records) : '-',
      'Late found':
        run && run.lateBlobs > 0
          ? `${run.lateBlobs} (up to ${formatSeconds(run.maxLatenessSeconds ?? 0)} late)`
          : run
            ? '0'
            : '-',
      Quarantined: String(c.quarantine.length),
      Gaps:
        c.gapsFilled + c.gapsPartlyFilled > 0
          ? `${c.gapCount} (${c.gapsFilled} filled${c.gapsPartlyFilled > 0 ? `, ${c.gapsPartlyFilled} partly` : ''})`
          : String(c.gapCount),
      // Fanout mode: where the unit's collection task stands.
      Task: c.task
        ? `${c.task.state} ${c.task.finishedAt && c.task.state === 'done' ? c.task.finishedAt : (c.task.startedAt ?? c.task.enqueuedAt)}`
        : '-',
    };
  });
}

export function formatStatus(s: PipelineStatus): string {
  const rows = [
    [
      'Tenant',
      'Content type',
      'Cursor',
      'Lag',
      'Last run',
      'Records',
      'Late found',
      'Quarantined',
      'Gaps',
      'Task',
    ],
    ...statusRows(s).map((r) => Object.values(r)),
  ];
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
        `Gap ${c.tenantId} ${c.contentType}: ${g.start} to ${g.end} (${g.reason}${g.contentId ? `, content ${g.contentId}` : ''}${g.error ? `: ${g.error}` : ''})` +
          (g.filledAt && g.notFilledBefore
            ? ` partly filled by a backfill ${g.filledAt}: records before ${g.notFilledBefore} were older ` +
              'than the audit retention and could not be read'
            : g.filledAt
              ? ` filled by a backfill ${g.filledAt}`
              : ''),
      );
    }
  }
  for (const b of s.backfills) {
    const w = b.windows;
    lines.push(
      `Backfill ${b.tenantId} ${b.from} to ${b.to} (${b.contentTypes.length === 5 ? 'all content types' : b.contentTypes.join(', ')}): ` +
        `${b.state}, ${w.done}/${w.total} window(s) done` +
        (w.partial + w.failed > 0 ? `, ${w.partial} partial, ${w.failed} failed` : '') +
        `, ${b.records} record(s) read` +
        (b.refused > 0 ? `, ${b.refused} refused (kept in rejected)` : '') +
        (b.gapsFilled > 0 ? `, filled ${b.gapsFilled} gap(s)` : '') +
        ` (${b.finishedAt ? `finished ${b.finishedAt}` : `updated ${b.updatedAt}`})`,
    );
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

export const statusCommand: Command = {
  name: 'status',
  summary: 'where collection stands: lag, last runs, quarantine, gaps, the poison queue',
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv);
    if (args.help) {
      io.out(`${USAGE}\n`);
      return 0;
    }
    const target = resolveStorage(io.env, { local: args.local, stateDir: args.stateDir, tenants: true });
    const { blobs, queues } = createStorageClients(target.storage);
    const status = await readStatus({
      tenants: target.tenantIds,
      contentTypes: target.contentTypes,
      watermarks: new WatermarkStore(blobs.getContainerClient(CONTAINERS.watermarks)),
      claims: new TaskClaimStore(blobs.getContainerClient(CONTAINERS.watermarks)),
      backfills: new BackfillProgressStore(blobs.getContainerClient(CONTAINERS.watermarks)),
      queues,
      queueName: target.queueName,
      lagWarningSeconds: args.lagWarningMinutes * 60,
      sweepIntervalMs: target.sweepIntervalMs,
      now: io.now(),
    });
    if (args.format === 'json') io.out(`${JSON.stringify(status, null, 2)}\n`);
    else if (args.format === 'csv') io.out(formatRows(statusRows(status), 'csv'));
    else io.out(`${formatStatus(status)}\n`);
    return status.problems.length === 0 ? 0 : 1;
  },
};

/** The command with line-wise output (tests); messages go to `err`, by default to `out` too. */
export function main(
  argv: readonly string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
  out: Out = (line) => console.log(line),
  now: Date = new Date(),
  err: Out = out,
): Promise<number> {
  return runCommand(statusCommand, argv, lineIo(env, out, err, now));
}

if (require.main === module)
  runAsProgram('status', () =>
    main(process.argv.slice(2), process.env, console.log, new Date(), console.error),
  );
