import { hostname, userInfo } from 'node:os';
import { runBackfill, type BackfillSummary } from '../../shared/backfill/backfillRun';
import { encodeBackfillMessage, type BackfillMessage } from '../../shared/backfill/backfillMessage';
import { BackfillRuntime } from '../../shared/backfill/backfillRuntime';
import { filledGaps, planGapFills, type GapFill } from '../../shared/backfill/gaps';
import { countProgress, type BackfillProgress } from '../../shared/backfill/progressStore';
import { DAY_MS, HOUR_MS } from '../../shared/backfill/windows';
import {
  loadBackfillSettings,
  loadConfig,
  loadStoreSettings,
  SETTINGS,
  type AuditfeedConfig,
} from '../../shared/config';
import { CONTENT_TYPES, isContentType, type ContentType } from '../../shared/contentTypes';
import { ConfigError } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { formatSeconds } from '../../shared/status';
import { createStorageClients, CONTAINERS } from '../../shared/storage/clients';
import { WatermarkStore } from '../../shared/storage/watermarkStore';
import type { Command, Io } from '../cli';
import { flagSet, flagValue, isoTime, parseFlags, UsageError, wholeNumber } from './args';

/**
 * `auditfeed backfill`: history older than the Management Activity API's 7 days, from the tenant's audit log
 * through Microsoft Graph audit log queries, into the same container through the live feed's queue and
 * writer (docs/backfill.md). Runs here with a progress bar, or (--submit) is stored for the deployed
 * backfill function.
 */

export const BACKFILL_USAGE = `Usage: auditfeed backfill --tenant ID --from DATE --to DATE [--content-types LIST] [options]
       auditfeed backfill --gaps [--tenant ID] [--content-types LIST] [options]

Fills history the Management Activity API no longer has (it keeps 7 days) from the tenant's audit log
(Microsoft Graph audit log queries; the app needs AuditLogsQuery.Read.All with admin consent). Records go
through the live feed's queue and writer: the same documents, so overlap with the live feed or another
backfill stores nothing twice. Progress is saved after every page: run the same command again to resume a
backfill that stopped (Ctrl-C, a crash, the query budget).

  --tenant ID            the tenant (one of AUDITFEED_TENANT_IDS); with --gaps, default every tenant
  --from DATE            start, inclusive: 2026-06-01 or 2026-06-01T12:00:00Z (UTC unless a zone is given)
  --to DATE              end, exclusive
  --content-types LIST   content types to store, separated by commas (default AUDITFEED_CONTENT_TYPES)
  --gaps                 fill every gap the collector recorded in the watermarks (auditfeed status lists
                         them, and which a backfill filled)
  --window-hours N       hours one query covers to start with (default 24; a window over the service's
                         record limit is halved down to 60 minutes by itself)
  --submit               store the request for the deployed backfill function (queue
                         AUDITFEED_BACKFILL_QUEUE_NAME) instead of running it here
  --json                 print the summary as JSON
  --progress             progress lines on stderr even when it is not a terminal
  --help                 this text

Settings: the function app's (AUDITFEED_TENANT_IDS, AUDITFEED_CLIENT_ID and credential, AUDITFEED_STORAGE…,
AUDITFEED_CLOUD); --submit needs only the storage settings. AUDITFEED_AUDIT_RETENTION_DAYS (default 180)
says how far back the audit log goes.

Exit code: 0 complete, 1 stopped, partial or failed windows, or an error, 2 bad arguments or settings.`;

const FLAGS = [
  { name: 'tenant', value: 'ID' },
  { name: 'from', value: 'DATE' },
  { name: 'to', value: 'DATE' },
  { name: 'content-types', value: 'LIST' },
  { name: 'gaps' },
  { name: 'window-hours', value: 'N' },
  { name: 'submit' },
  { name: 'json' },
  { name: 'progress' },
];

export interface BackfillArgs {
  tenant: string | undefined;
  from: string | undefined;
  to: string | undefined;
  contentTypes: ContentType[] | undefined;
  gaps: boolean;
  windowMs: number;
  submit: boolean;
  json: boolean;
  progress: boolean;
}

/** Throws UsageError naming the flag and the fix. */
export function parseBackfillArgs(argv: readonly string[]): BackfillArgs | 'help' {
  const p = parseFlags(argv, FLAGS);
  if (p.help) return 'help';
  if (p.positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
  const gaps = flagSet(p, 'gaps');
  const fromFlag = flagValue(p, 'from');
  const toFlag = flagValue(p, 'to');
  if (gaps && (fromFlag !== undefined || toFlag !== undefined))
    throw new UsageError(
      '--gaps takes its ranges from the recorded gaps: give --gaps or --from/--to, not both',
    );
  if (!gaps && fromFlag === undefined)
    throw new UsageError('--from is required (or --gaps): the first day to fill, e.g. --from 2026-06-01');
  if (!gaps && toFlag === undefined)
    throw new UsageError(
      '--to is required (or --gaps): the day after the last to fill, e.g. --to 2026-09-01',
    );
  const from = fromFlag === undefined ? undefined : isoTime('from', fromFlag);
  const to = toFlag === undefined ? undefined : isoTime('to', toFlag);
  if (from !== undefined && to !== undefined && Date.parse(from) >= Date.parse(to))
    throw new UsageError(`--from (${from}) must be before --to (${to}): the range is [from, to)`);
  const tenant = flagValue(p, 'tenant');
  if (!gaps && tenant === undefined)
    throw new UsageError('--tenant is required: the tenant id (one of AUDITFEED_TENANT_IDS) to backfill');
  const ct = flagValue(p, 'content-types');
  let contentTypes: ContentType[] | undefined;
  if (ct !== undefined) {
    const list = ct
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '');
    const bad = list.filter((c) => !isContentType(c));
    if (list.length === 0 || bad.length > 0)
      throw new UsageError(
        `--content-types: ${bad.length > 0 ? `${bad.map((b) => JSON.stringify(b)).join(', ')} is not a content type` : 'no content type given'} (valid: ${CONTENT_TYPES.join(', ')})`,
      );
    contentTypes = [...new Set(list as ContentType[])];
  }
  const hours = flagValue(p, 'window-hours');
  const windowHours = hours === undefined ? 24 : wholeNumber('window-hours', hours);
  if (windowHours > 24 * 31) throw new UsageError('--window-hours must be at most 744 (31 days)');
  return {
    tenant,
    from,
    to,
    contentTypes,
    gaps,
    windowMs: windowHours * HOUR_MS,
    submit: flagSet(p, 'submit'),
    json: flagSet(p, 'json'),
    progress: flagSet(p, 'progress'),
  };
}

function settings<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The range rules every request passes: inside the audit retention, not in the future. */
export function checkRange(from: string, to: string, retentionDays: number, now: Date): void {
  const oldest = new Date(now.getTime() - retentionDays * DAY_MS);
  if (Date.parse(from) < oldest.getTime())
    throw new UsageError(
      `--from ${from} is older than the audit retention (${retentionDays} days: the audit log keeps records from ` +
        `${oldest.toISOString()} on); use a later --from, or set ${SETTINGS.auditRetentionDays.name} if your ` +
        'tenants keep longer (Audit Premium, retention policies)',
    );
  if (Date.parse(to) > now.getTime() + 60_000)
    throw new UsageError(
      `--to ${to} is in the future (now is ${now.toISOString()}); the live feed collects from now on: use --to ` +
        `${now.toISOString().slice(0, 10)} or earlier`,
    );
}

function who(): string {
  try {
    return `cli ${userInfo().username}@${hostname()}`;
  } catch {
    return `cli ${hostname()}`;
  }
}

export const backfillCommand: Command = {
  name: 'backfill',
  summary: "fills history beyond the API's 7 days (or recorded gaps) from the tenant's audit log via Graph",
  usage: BACKFILL_USAGE,
  async run(argv, io) {
    const args = parseBackfillArgs(argv);
    if (args === 'help') {
      io.out(`${BACKFILL_USAGE}\n`);
      return 0;
    }
    return args.submit ? submit(args, io) : runHere(args, io);
  },
};

/** The cloud check: Microsoft documents the audit log query API for the global service only. */
function checkCloud(config: Pick<AuditfeedConfig, 'cloud' | 'endpoints'>, io: Io): void {
  if (config.endpoints.auditLogQuery === 'unavailable')
    throw new UsageError(
      `the Graph audit log query API is documented for the global service only, not for ${config.cloud} ` +
        `(${SETTINGS.cloud.name}); export the audit log from the Purview portal (or Search-UnifiedAuditLog) and ` +
        'load it with `auditfeed import <file>` instead (docs/backfill-mapping.md)',
    );
  if (config.endpoints.auditLogQuery === 'unconfirmed')
    io.err(
      `auditfeed backfill: Microsoft does not say whether the audit log query API answers for ${config.cloud} ` +
        'tenants; trying it. If queries are refused, use `auditfeed import <file>` instead.\n',
    );
}

function checkTenant(tenant: string, tenantIds: readonly string[]): string {
  const t = tenant.trim().toLowerCase();
  const known = tenantIds.find((x) => x.toLowerCase() === t);
  if (!known)
    throw new UsageError(
      `--tenant ${tenant} is not one of ${SETTINGS.tenantIds.name} (${tenantIds.join(', ') || 'none'}); check the ` +
        `id, or add the tenant to ${SETTINGS.tenantIds.name} (and consent the app there) first`,
    );
  return known;
}

async function runHere(args: BackfillArgs, io: Io): Promise<number> {
  const config = settings(() => loadConfig(io.env));
  checkCloud(config, io);
  const now = io.now();
  const contentTypes = args.contentTypes ?? config.contentTypes;
  const tenantIds = config.tenants.map((t) => t.tenantId);
  // Every mistake is reported before the first request.
  const tenants = args.tenant ? [checkTenant(args.tenant, tenantIds)] : tenantIds;
  if (!args.gaps) checkRange(args.from!, args.to!, config.backfill.auditRetentionDays, now);
  const runtime = new BackfillRuntime(config);
  await runtime.ensureResources();

  let requests: GapFill[];
  if (args.gaps) {
    const plan = await planGaps(runtime, tenants, contentTypes, config.backfill.auditRetentionDays, now);
    for (const g of plan.tooOld)
      io.err(
        `auditfeed backfill: the ${g.contentType} gap ${g.start} to ${g.end} is older than the audit retention ` +
          `(${config.backfill.auditRetentionDays} days): nothing can fill it any more\n`,
      );
    if (plan.alreadyFilled.length > 0)
      io.err(`auditfeed backfill: ${plan.alreadyFilled.length} gap(s) were filled by an earlier backfill\n`);
    if (plan.fills.length === 0) {
      io.out(args.json ? '[]\n' : 'No gaps to fill.\n');
      return 0;
    }
    requests = plan.fills;
  } else {
    requests = [{ tenantId: tenants[0]!, from: args.from!, to: args.to!, contentTypes, fills: [] }];
  }

  const abort = new AbortController();
  const onSignal = (): void => {
    io.err(
      '\nauditfeed backfill: stopping at the next safe point (progress is saved; run the same command to resume)…\n',
    );
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  const summaries: BackfillSummary[] = [];
  try {
    for (const r of requests) {
      if (abort.signal.aborted) break;
      const bar = new ProgressBar(
        io,
        `${r.from.slice(0, 10)}..${r.to.slice(0, 10)}`,
        args.progress || io.errIsTTY,
      );
      const summary = await runBackfill({
        ...runtime.engineParts(),
        request: {
          tenantId: r.tenantId,
          from: r.from,
          to: r.to,
          contentTypes: r.contentTypes,
          windowMs: args.windowMs,
          createdBy: args.gaps ? `${who()} --gaps` : who(),
          ...(r.fills.length > 0 ? { fills: r.fills } : {}),
        },
        logger: bar.logger(),
        maxQueriesInFlight: config.backfill.queriesInFlight,
        maxQueriesPerDay: config.backfill.queriesPerDay,
        abortSignal: abort.signal,
        onProgress: (p) => bar.update(p),
      });
      bar.done();
      summaries.push(summary);
      if (summary.outcome === 'failed' || summary.outcome === 'busy') break;
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  io.out(args.json ? `${JSON.stringify(summaries, null, 2)}\n` : summaries.map(formatSummary).join('\n'));
  return summaries.length === requests.length && summaries.every((s) => s.outcome === 'complete') ? 0 : 1;
}

async function planGaps(
  runtime: BackfillRuntime,
  tenants: readonly string[],
  contentTypes: readonly ContentType[],
  retentionDays: number,
  now: Date,
): ReturnType<typeof planGapFills> extends infer P ? Promise<P> : never {
  const watermarks = new WatermarkStore(runtime.storage.blobs.getContainerClient(CONTAINERS.watermarks));
  const gaps = [];
  const backfills: BackfillProgress[] = [];
  for (const tenantId of tenants) {
    for (const contentType of contentTypes) {
      const { watermark } = await watermarks.load(tenantId, contentType);
      if (watermark.gaps.length > 0) gaps.push({ tenantId, contentType, gaps: watermark.gaps });
    }
    backfills.push(...(await runtime.store.list(tenantId)).map((b) => b.progress));
  }
  return planGapFills(gaps, {
    oldest: new Date(now.getTime() - retentionDays * DAY_MS),
    now,
    filled: filledGaps(backfills),
  });
}

/** --submit: the request onto the backfill queue, for the deployed function (no Graph credentials here). */
async function submit(args: BackfillArgs, io: Io): Promise<number> {
  if (args.gaps)
    throw new UsageError('--gaps runs here only (it reads the watermarks to plan); run it without --submit');
  const store = settings(() => loadStoreSettings(io.env, ['storage', 'tenantIds']));
  const backfill = settings(() => loadBackfillSettings(io.env));
  const tenantId = checkTenant(args.tenant!, store.tenantIds);
  const now = io.now();
  checkRange(args.from!, args.to!, backfill.auditRetentionDays, now);
  const message: BackfillMessage = {
    v: 1,
    kind: 'backfill',
    tenantId,
    from: args.from!,
    to: args.to!,
    contentTypes: args.contentTypes ?? store.contentTypes,
    windowMs: args.windowMs,
    createdBy: `${who()} --submit`,
    run: 1,
    enqueuedAt: now.toISOString(),
  };
  const { queues } = createStorageClients(store.storage);
  const queue = queues.getQueueClient(backfill.queueName);
  await queue.createIfNotExists();
  await queue.sendMessage(encodeBackfillMessage(message), { messageTimeToLive: -1 });
  io.out(
    `Submitted: the backfill function carries out ${tenantId} ${message.from} to ${message.to} ` +
      `(${message.contentTypes.join(', ')}) from queue ${backfill.queueName}; \`auditfeed status\` shows its progress.\n`,
  );
  return 0;
}

/** One summary for a person. */
export function formatSummary(s: BackfillSummary): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const sent = Object.entries(s.run.sent)
    .map(([ct, c]) => `${ct} ${n(c)}`)
    .join(', ');
  const refused = Object.entries(s.run.refused)
    .map(([why, c]) => `${n(c)} (${why})`)
    .join('; ');
  const lines = [
    `Backfill ${s.tenantId} ${s.from} to ${s.to}: ${s.outcome}${s.stoppedBecause ? ` (${s.stoppedBecause})` : ''}`,
    `  windows: ${s.windows.done} done, ${s.windows.partial} partial, ${s.windows.failed} failed, ${s.windows.open} open of ${s.windows.total}`,
    `  this run: ${n(s.run.records)} record(s) read; sent ${sent || 'none'}; ${n(s.run.skipped)} of other content types; refused ${refused || 'none'}`,
    `  queries created ${s.run.queriesCreated}, requests ${n(s.run.requests)}` +
      (s.run.requestsPer1000Records !== null ? ` (${s.run.requestsPer1000Records} per 1,000 records)` : '') +
      (s.run.recordsPerSecond !== null ? `, ${s.run.recordsPerSecond} records/s` : '') +
      `, throttled ${s.run.throttled}`,
  ];
  if (refused)
    lines.push(
      `  refused records are kept with their reason in the storage account's rejected/${s.tenantId}/ blobs`,
    );
  for (const w of s.partialWindows) lines.push(`  partial ${w.start} to ${w.end}: ${w.reason}`);
  for (const w of s.failedWindows) lines.push(`  failed ${w.start} to ${w.end}: ${w.reason}`);
  if (s.error) lines.push(`  error: ${s.error}`);
  if (s.resumeAfter)
    lines.push(`  the query budget allows more from ${s.resumeAfter}: run the same command then`);
  if (s.outcome === 'stopped' || s.outcome === 'failed')
    lines.push('  progress is saved: run the same command again to continue');
  if (s.outcome === 'busy') lines.push(`  ${s.error ?? 'another run holds this backfill'}`);
  lines.push(`  progress: ${s.progressBlob}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The progress bar on stderr: share of the range in finished windows, windows, records, ETA from this
 * run's pace. On a terminal one line rewritten in place; with --progress elsewhere, a line per finished window.
 */
class ProgressBar {
  private started: { at: number; done: number } | undefined;
  private shown = false;
  private lastFinished = -1;

  constructor(
    private readonly io: Io,
    private readonly label: string,
    private readonly enabled: boolean,
  ) {}

  update(p: BackfillProgress): void {
    if (!this.enabled) return;
    const c = countProgress(p);
    const now = this.io.now().getTime();
    const fraction = c.totalMs > 0 ? c.finishedMs / c.totalMs : 1;
    this.started ??= { at: now, done: fraction };
    const rate = (fraction - this.started.done) / Math.max(1, now - this.started.at);
    const eta = rate > 0 ? formatSeconds((1 - fraction) / rate / 1000) : '…';
    const width = 24;
    const full = Math.round(fraction * width);
    const text =
      `${this.label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.floor(fraction * 100)}% ` +
      `${c.done + c.partial + c.failed}/${c.windows} windows, ${c.records.toLocaleString('en-US')} records, ETA ${eta}`;
    if (this.io.errIsTTY) {
      this.io.err(`\r\x1b[2K${text}`);
      this.shown = true;
    } else if (c.done + c.partial + c.failed !== this.lastFinished) {
      this.lastFinished = c.done + c.partial + c.failed;
      this.io.err(`${text}\n`);
    }
  }

  /** Warnings and errors of the engine, on their own line above the bar. */
  logger(): Logger {
    const line = (level: string, message: string, properties?: Record<string, unknown>): void => {
      if (this.shown) this.io.err('\r\x1b[2K');
      this.shown = false;
      this.io.err(
        `auditfeed backfill: ${level}: ${message}${properties ? ` ${JSON.stringify(properties)}` : ''}\n`,
      );
    };
    return {
      info: () => undefined,
      warn: (m, p) => line('warning', m, p),
      error: (m, p) => line('error', m, p),
    };
  }

  done(): void {
    if (this.shown) this.io.err('\r\x1b[2K');
    this.shown = false;
  }
}
