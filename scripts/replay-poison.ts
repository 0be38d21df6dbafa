/**
 * `auditfeed replay-poison` (also `npm run replay-poison`): moves the writer's poison messages back to its
 * queue once their cause is fixed. Exit code 0 done, 1 failed, 2 bad arguments or settings.
 */
import { createStorageClients } from '../shared/storage/clients';
import { FailedMessageArchive } from '../shared/writer/failedMessages';
import { poisonQueueName, replayPoison, type ReplayResult } from '../shared/writer/poisonReplay';
import { flagSet, flagValue, parseFlags, UsageError, wholeNumber } from './cli/args';
import { resolveStorage } from './cli/target';
import { lineIo, runAsProgram, runCommand, type Command, type Out } from './cli';

const USAGE = `Usage: auditfeed replay-poison [--dry-run] [--max N] [--archive] [--local] [--state-dir DIR]
       (also npm run replay-poison -- …)

Moves messages from the writer's poison queue (<AUDITFEED_QUEUE_NAME>-poison) back to its queue, so the
writer tries them again.

Where it works: the storage account in the settings (AUDITFEED_STORAGE, a connection string; or
AUDITFEED_STORAGE__blobServiceUri and AUDITFEED_STORAGE__queueServiceUri with your Azure sign-in; the queue
from AUDITFEED_QUEUE_NAME); with none of those, the running local stack (\`npm start -- --follow\`, found in
.local/last-run.json). Other settings are not needed.

  --dry-run         count the poison messages and show a few ids; move nothing
  --max N           move at most N messages (default: all that were there at the start)
  --archive         also re-enqueue the archived copies of poisoned messages (kept in the poison-archive
                    container without expiry; use it when poison messages expired after 7 days)
  --local           use the running local stack even when storage settings are set
  --state-dir DIR   where the local stack's last-run.json is (default .local; also AUDITFEED_LOCAL_DIR)
  --help            this text`;

interface Args {
  dryRun: boolean;
  archive: boolean;
  max?: number;
  local: boolean;
  stateDir: string | undefined;
  help: boolean;
}

const FLAGS = [
  { name: 'dry-run' },
  { name: 'archive' },
  { name: 'max', value: 'N' },
  { name: 'local' },
  { name: 'state-dir', value: 'DIR' },
];

/** Throws UsageError on bad arguments (docs/runbooks.md's flags are checked with it). */
export function parseArgs(argv: readonly string[]): Args {
  const p = parseFlags(argv, FLAGS);
  if (p.positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
  const max = flagValue(p, 'max');
  return {
    dryRun: flagSet(p, 'dry-run'),
    archive: flagSet(p, 'archive'),
    ...(max !== undefined ? { max: wholeNumber('max', max) } : {}),
    local: flagSet(p, 'local'),
    stateDir: flagValue(p, 'state-dir'),
    help: p.help,
  };
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

export const replayPoisonCommand: Command = {
  name: 'replay-poison',
  summary: "moves the writer's poison messages back to its queue (once their cause is fixed)",
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv);
    if (args.help) {
      io.out(`${USAGE}\n`);
      return 0;
    }
    const target = resolveStorage(io.env, { local: args.local, stateDir: args.stateDir });
    const say = (line: string): void => io.out(`${line}\n`);
    const { queues, blobs } = createStorageClients(target.storage);
    const poison = poisonQueueName(target.queueName);
    const archive = new FailedMessageArchive(blobs);
    const queue = queues.getQueueClient(target.queueName);
    const result = await replayPoison({
      queue,
      poisonQueue: queues.getQueueClient(poison),
      dryRun: args.dryRun,
      archive,
      ...(args.max !== undefined ? { max: args.max } : {}),
    });
    say(describeResult(target.queueName, poison, result));
    const archived = await archive.count();
    if (args.archive && !args.dryRun) {
      const moved = await archive.replay(queue, args.max !== undefined ? args.max - result.moved : undefined);
      say(
        `Re-enqueued ${moved} archived message(s) from ${archive.container.containerName} to ${target.queueName}.`,
      );
    } else if (archived > 0) {
      say(
        `${archived} archived copy(ies) of poisoned messages remain in ${archive.container.containerName}` +
          (args.archive
            ? '.'
            : '; add --archive to re-enqueue them (needed once poison messages have expired).'),
      );
    }
    return 0;
  },
};

/** The command with line-wise output (tests); messages go to `err`, by default to `out` too. */
export function main(
  argv: readonly string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
  out: Out = (line) => console.log(line),
  err: Out = out,
): Promise<number> {
  return runCommand(replayPoisonCommand, argv, lineIo(env, out, err));
}

if (require.main === module)
  runAsProgram('replay-poison', () => main(process.argv.slice(2), process.env, console.log, console.error));
