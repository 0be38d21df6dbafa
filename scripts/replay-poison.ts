import { createStorageClients } from '../shared/storage/clients';
import { FailedMessageArchive } from '../shared/writer/failedMessages';
import { poisonQueueName, replayPoison, type ReplayResult } from '../shared/writer/poisonReplay';
import { runAsProgram, withSettings, type Out } from './cli';

const USAGE = `Usage: npm run replay-poison -- [--dry-run] [--max N] [--archive]

Moves messages from the writer's poison queue (<AUDITFEED_QUEUE_NAME>-poison) back to its queue, so the
writer tries them again. Reads the same settings as the function app (AUDITFEED_STORAGE…).

  --dry-run   count the poison messages and show a few ids; move nothing
  --max N     move at most N messages (default: all that were there at the start)
  --archive   also re-enqueue the archived copies of poisoned messages (kept in the poison-archive
              container without expiry; use it when poison messages expired after 7 days)`;

interface Args {
  dryRun: boolean;
  archive: boolean;
  max?: number;
  help: boolean;
}

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { dryRun: false, archive: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dry-run') args.dryRun = true;
    else if (a === '--archive') args.archive = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--max' || a?.startsWith('--max=')) {
      const value = a === '--max' ? argv[++i] : a.slice('--max='.length);
      if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1) {
        throw new Error(`--max needs a whole number of at least 1 (got ${JSON.stringify(value ?? '')})`);
      }
      args.max = Number(value);
    } else throw new Error(`Unknown argument ${JSON.stringify(a)}`);
  }
  return args;
}

export function describeResult(queue: string, poison: string, r: ReplayResult): string {
  const ids =
    r.sample.length > 0
      ? ` Message ids: ${r.sample.join(', ')}${r.available > r.sample.length ? ', …' : ''}.`
      : '';
  return r.dryRun
    ? `Dry run: ${r.available} message(s) in ${poison}; nothing moved.${ids}`
    : `Moved ${r.moved} message(s) from ${poison} to ${queue}.${ids}`;
}

/** The CLI; returns the exit code. */
export function main(
  argv: readonly string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
  out: Out = (line) => console.log(line),
): Promise<number> {
  return withSettings({ usage: USAGE, parse: parseArgs, argv, env, out }, async (args, config) => {
    const { queues, blobs } = createStorageClients(config.storage);
    const poison = poisonQueueName(config.queueName);
    const archive = new FailedMessageArchive(blobs);
    const queue = queues.getQueueClient(config.queueName);
    const result = await replayPoison({
      queue,
      poisonQueue: queues.getQueueClient(poison),
      dryRun: args.dryRun,
      archive,
      ...(args.max !== undefined ? { max: args.max } : {}),
    });
    out(describeResult(config.queueName, poison, result));
    const archived = await archive.count();
    if (args.archive && !args.dryRun) {
      const moved = await archive.replay(queue, args.max !== undefined ? args.max - result.moved : undefined);
      out(
        `Re-enqueued ${moved} archived message(s) from ${archive.container.containerName} to ${config.queueName}.`,
      );
    } else if (archived > 0) {
      out(
        `${archived} archived copy(ies) of poisoned messages remain in ${archive.container.containerName}` +
          (args.archive
            ? '.'
            : '; add --archive to re-enqueue them (needed once poison messages have expired).'),
      );
    }
    return 0;
  });
}

if (require.main === module) runAsProgram('replay-poison', () => main());
