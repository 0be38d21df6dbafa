import type { Container } from '@azure/cosmos';
import pLimit from 'p-limit';
import type { ContentType } from '../../shared/contentTypes';
import {
  creationDayOf,
  documentId,
  partitionKey,
  recordIdOf,
  userKeyOf,
} from '../../shared/writer/recordIdentity';
import type { Truth, TruthStory } from '../simulator';

/**
 * Checks the store after a run through the real Cosmos DB SDK: what is there per content type, and — with
 * the simulator — that every record it had published is there exactly once, and that the scripted
 * story can be found by an investigator's query.
 */

export interface TruthCheck {
  /** ISO bounds used: records available by mustHaveBy must be there, by mayHaveBy may be. */
  mustHaveBy: string;
  mayHaveBy: string;
  /** Distinct records published before the last complete collector run started. */
  expected: number;
  missing: number;
  /** A few missing record ids, for the log. */
  missingSample: string[];
  /** Record ids stored more than once (in more than one partition). */
  duplicated: number;
  /** Documents of the tenant whose record the simulator never published. */
  unexpected: number;
}

export interface StoryCheck {
  kind: 'bec';
  victim: string;
  attackerIp: string;
  attackerCountry: string;
  forwardTo: string;
  records: number;
  /** Story records published before the last complete collector run started: these must be there. */
  available: number;
  /** Story records found by point read (id + partition key). */
  inStore: number;
  /** Per step: [found, total]. */
  steps: Record<string, [number, number]>;
  /** The attacker's records (spraying, compromise, consent) found, of all of them. */
  attackerRecords: [number, number];
  /** Per attack phase: [found, total]. */
  phases: Record<string, [number, number]>;
  /** Records of the benign look-alikes found, of all of them. */
  lookAlikeRecords: [number, number];
  /** Users the attacker got into (victim, consent victim). */
  compromisedUsers: string[];
  /** The consent-phishing victim and the app they consented to. */
  consent: { victim: string; app: string };
  /** Benign users scripted to look like the attack. */
  lookAlikeUsers: string[];
  /** Distinct users the spraying tried. */
  sprayedUsers: number;
}

export interface ExampleQuery {
  /** Ready to paste (values inline). */
  text: string;
  rows: number;
}

export interface StoreCheck {
  /** ISO time of the check. */
  checkedAt: string;
  documents: number;
  perType: Partial<Record<ContentType, number>>;
  truth: TruthCheck | undefined;
  stories: StoryCheck[];
  example: ExampleQuery | undefined;
}

export interface VerifyOptions {
  container: Container;
  tenantIds: string[];
  truth?: Truth;
  /** Records available by then must be there (the start of the last complete collector run). */
  mustHaveBy?: Date;
  /** Records available by then may be there (now). */
  mayHaveBy?: Date;
}

/** The example query when there is no simulated story: what arrived last, whatever the tenant. */
export const GENERAL_EXAMPLE =
  'SELECT TOP 10 c.CreationTime, c.contentType, c.Operation, c.UserId, c.clientIp FROM c ORDER BY c.CreationTime DESC';

export async function verifyStore(options: VerifyOptions): Promise<StoreCheck> {
  const { container, truth } = options;
  const counts = new Map<string, number>();
  const perType: Partial<Record<ContentType, number>> = {};
  let documents = 0;
  for (const tenantId of options.tenantIds) {
    const iterator = container.items.query<{ id: string; contentType: ContentType }>(
      {
        query: 'SELECT c.id, c.contentType FROM c WHERE c.tenantId = @tenantId',
        parameters: [{ name: '@tenantId', value: tenantId }],
      },
      { maxItemCount: 1000 },
    );
    for await (const page of iterator.getAsyncIterator()) {
      for (const doc of page.resources) {
        documents += 1;
        perType[doc.contentType] = (perType[doc.contentType] ?? 0) + 1;
        counts.set(doc.id, (counts.get(doc.id) ?? 0) + 1);
      }
    }
  }

  let truthCheck: TruthCheck | undefined;
  const stories: StoryCheck[] = [];
  let example: ExampleQuery | undefined;
  if (truth && options.mustHaveBy) {
    const mayHaveBy = options.mayHaveBy ?? new Date();
    const mustHave = new Set<string>();
    const mayHave = new Set<string>();
    for (const tenantId of options.tenantIds) {
      for (const id of truth.recordIds({ tenantId, availableBy: options.mustHaveBy }))
        mustHave.add(documentId(id));
      for (const id of truth.recordIds({ tenantId, availableBy: mayHaveBy })) mayHave.add(documentId(id));
    }
    const missing = [...mustHave].filter((id) => !counts.has(id));
    truthCheck = {
      mustHaveBy: options.mustHaveBy.toISOString(),
      mayHaveBy: mayHaveBy.toISOString(),
      expected: mustHave.size,
      missing: missing.length,
      missingSample: missing.slice(0, 10),
      duplicated: [...counts.values()].filter((n) => n > 1).length,
      unexpected: [...counts.keys()].filter((id) => !mayHave.has(id)).length,
    };
    for (const story of truth.stories()) {
      if (options.tenantIds.includes(story.tenantId)) {
        stories.push(await checkStory(container, story, options.mustHaveBy));
      }
    }
    const story = stories[0];
    if (story) {
      example = await runExample(
        container,
        `SELECT c.CreationTime, c.Operation, c.UserId, c.forwardTo FROM c WHERE c.clientIp = '${story.attackerIp}' ORDER BY c.CreationTime`,
      );
    }
  }
  if (!example && documents > 0) {
    // No scripted story to look for (a real tenant): the latest records, on indexed paths only.
    example = await runExample(container, GENERAL_EXAMPLE);
  }
  return { checkedAt: new Date().toISOString(), documents, perType, truth: truthCheck, stories, example };
}

async function checkStory(container: Container, story: TruthStory, mustHaveBy: Date): Promise<StoryCheck> {
  const limit = pLimit(16);
  const found = new Set<string>();
  await Promise.all(
    story.records.map(({ id, record }) =>
      limit(async () => {
        const recordId = recordIdOf(record.Id) ?? id;
        const pk = partitionKey(story.tenantId, creationDayOf(record.CreationTime) ?? '', userKeyOf(record));
        const { resource } = await container.item(documentId(recordId), pk).read<{ id: string }>();
        if (resource !== undefined) found.add(id);
      }),
    ),
  );
  const tally = (ids: readonly string[]): [number, number] => [
    ids.filter((id) => found.has(id)).length,
    ids.length,
  ];
  const steps: Record<string, [number, number]> = {};
  for (const [step, ids] of Object.entries(story.steps)) steps[step] = tally(ids);
  const phases: Record<string, [number, number]> = {};
  for (const [phase, ids] of Object.entries(story.attack)) phases[phase] = tally(ids);
  return {
    kind: story.kind,
    victim: story.victim.upn,
    attackerIp: story.attackerIp,
    attackerCountry: story.attackerCountry,
    forwardTo: story.forwardTo,
    records: story.records.length,
    available: story.records.filter((r) => Date.parse(r.availableAt) <= mustHaveBy.getTime()).length,
    inStore: found.size,
    steps,
    attackerRecords: tally(story.attackerRecordIds),
    phases,
    lookAlikeRecords: tally(story.lookAlikes.flatMap((l) => l.recordIds)),
    compromisedUsers: story.compromisedUsers,
    consent: { victim: story.consent.victim.upn, app: story.consent.appDisplayName },
    lookAlikeUsers: story.lookAlikeUsers,
    sprayedUsers: story.sprayedUsers.length,
  };
}

async function runExample(container: Container, text: string): Promise<ExampleQuery> {
  const { resources } = await container.items.query<Record<string, unknown>>(text).fetchAll();
  return { text, rows: resources.length };
}
