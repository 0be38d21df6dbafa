import type { AuditRecord, ContentBlobRef, ContentType } from '../../shared/contentTypes';
import type { BlobMeta, ContentStore } from './content';
import { REJECT_REASONS } from './hostile';
import type { HostileKind, RecordOutcome } from './hostile';
import type { AttackPhase, LookAlikeKind, SimUser } from './records';
import { STEP_PHASE } from './records';
import { HOUR } from './time';
import { unreadableUntil } from './unreadable';
import type { UnreadableKind } from './unreadable';

export interface RequestLogEntry {
  /** Simulator-clock time the request arrived. */
  at: Date;
  method: string;
  /** token | start | stop | list | content | blob | msi | openid | jwks | discovery | unknown */
  route: string;
  path: string;
  /** Raw query string without `?`, e.g. `contentType=Audit.Exchange&nextPage=…`. */
  query: string;
  tenantId?: string;
  contentType?: string;
  contentId?: string;
  /** 0 when no status was sent (reset, hang, client gone). */
  status: number;
  errorCode?: string;
  /** Fault action kind applied to this request, if any. */
  fault?: string;
  hadAuthorization: boolean;
  publisherIdentifier?: string;
  /** Requests of the same route open when this one arrived, itself included. */
  inFlight?: number;
  /** Network latency (wall-time ms, rounded) waited before answering; absent when none. */
  latencyMs?: number;
}

export interface TruthFilter {
  tenantId?: string;
  contentType?: ContentType;
  /** Only blobs available at this time (availableAt <= availableBy). */
  availableBy?: Date;
  /** Only blobs not yet expired at this time. */
  notExpiredAt?: Date;
  /**
   * Only blobs the listing showed at some moment up to this time: availableAt <= listableBy and
   * availableAt < contentExpiration (a blob that arrives after its expiry is never listed).
   */
  listableBy?: Date;
  /**
   * Only blobs that could be read in full at some moment up to this time: listable, and readable
   * (past `unreadableUntil`) before both this time and their expiry. What a collector can have by then.
   */
  readableBy?: Date;
}

export interface TruthRecord {
  id: string | undefined;
  tenantId: string;
  contentType: ContentType;
  contentId: string;
  /** As the record spells it: `YYYY-MM-DDTHH:MM:SS`. */
  creationTime: string | undefined;
  /** Index in the blob's JSON array. */
  position: number;
  /** What a correct pipeline does with it: 'reject' only for hostile elements it cannot store. */
  outcome: RecordOutcome;
  /** Set on the blob's hostile element (ScenarioSpec.blobs.hostileRecords). */
  hostile?: HostileKind;
}

/** An element a correct pipeline rejects (sets aside with its reason) instead of storing. */
export interface RejectedRecord {
  tenantId: string;
  contentType: ContentType;
  contentId: string;
  /** Index in the blob's JSON array. */
  position: number;
  kind: HostileKind;
  reason: string;
  /** The Id it carries, when it has one (deep). */
  id?: string;
}

/** A blob as the listing shows it (ISO times, contentUri), plus what only the simulator knows. */
export interface TruthBlob extends ContentBlobRef {
  tenantId: string;
  availableAt: string;
  /** Elements of the served array, the hostile one included. */
  recordCount: number;
  late: boolean;
  /** availableAt − contentCreated, in hours. */
  latenessHours: number;
  /** contentId of the earlier blob whose records this one repeats. */
  duplicateOf?: string;
  duplicateCount?: number;
  hasLargeRecord: boolean;
  explicit: boolean;
  /** Index in `truth.stories()` when the blob carries a scripted story's records. */
  story?: number;
  /** How the blob answers while unreadable (ScenarioSpec.blobs.unreadable). */
  unreadableKind?: UnreadableKind;
  /** ISO time from which it reads normally, or 'expiry' when it never does. */
  unreadableUntil?: string;
  /** Kind and array index of its hostile element. */
  hostileKind?: HostileKind;
  hostilePosition?: number;
  /** Carries about blobs.bulky.bytes of records, served chunked. */
  bulky?: boolean;
}

/** One record of a scripted story and the blob that serves it. */
export interface TruthStoryRecord {
  id: string;
  contentType: ContentType;
  /** As the record spells it: `YYYY-MM-DDTHH:MM:SS`. */
  creationTime: string;
  contentId: string;
  /** ISO time the blob becomes listable. */
  availableAt: string;
  record: AuditRecord;
  /** The attack phase it belongs to; absent for a look-alike's record. */
  phase?: AttackPhase;
  /** The look-alike it belongs to; absent for an attacker record. */
  lookAlike?: LookAlikeKind;
}

/** The attacker's app in the consent-phishing part of a story. */
export interface TruthConsent {
  /** The user who consented (a second compromised user). */
  victim: SimUser;
  appId: string;
  appDisplayName: string;
  servicePrincipalId: string;
  /** Delegated Microsoft Graph scopes granted. */
  scopes: string[];
  /** The victim's own address, where the consent came from (the app then reads mail from attackerIp). */
  consentIp: string;
}

/** A benign user whose scripted activity looks like the attack to a naive query. */
export interface TruthLookAlike {
  kind: LookAlikeKind;
  user: SimUser;
  /** Address of its scripted records that stands out (the traveller's foreign one, else home). */
  ip: string;
  recordIds: string[];
}

/**
 * What a hunt or an investigation must find in a story, without the records' bodies
 * (`GET /_sim/truth/attack`): the attacker's record ids per phase, who was compromised, who only looks so.
 */
export interface TruthAttack {
  kind: 'bec';
  tenantId: string;
  victim: string;
  attackerIp: string;
  attackerCountry: string;
  forwardTo: string;
  /** UPNs the attacker got into: the victim (spraying) and the consent victim. */
  compromisedUsers: string[];
  sprayedUsers: string[];
  consent: Omit<TruthConsent, 'victim'> & { victim: string };
  attack: Record<AttackPhase, string[]>;
  attackerRecordIds: string[];
  lookAlikes: Array<{ kind: LookAlikeKind; user: string; ip: string; recordIds: string[] }>;
  lookAlikeUsers: string[];
}

/** A scripted story (ScenarioSpec.stories): who, from where, and every record of it. */
export interface TruthStory {
  kind: 'bec';
  tenantId: string;
  victim: SimUser;
  attackerIp: string;
  attackerCountry: string;
  forwardTo: string;
  /** Every scripted record, the attacker's and the look-alikes', in CreationTime order. */
  records: TruthStoryRecord[];
  /** Record ids per step (see BecStory.steps; STEP_PHASE names the attacker steps' phases). */
  steps: Record<string, string[]>;
  /** The attacker's record ids per phase: spraying, compromise, consent. */
  attack: Record<AttackPhase, string[]>;
  /** Every attacker record id (the phases together), in CreationTime order. */
  attackerRecordIds: string[];
  /** UPNs the attacker got into: `victim` and `consent.victim`. */
  compromisedUsers: string[];
  /** UPNs the spraying tried (victim included); sprayed is not compromised. */
  sprayedUsers: string[];
  consent: TruthConsent;
  /** Benign users scripted to look like the attack; none has an attacker record. */
  lookAlikes: TruthLookAlike[];
  /** UPNs of `lookAlikes`: users a hunt must not call compromised. */
  lookAlikeUsers: string[];
}

/** A story's ground truth without record bodies, for `GET /_sim/truth/attack`. */
export function attackOf(story: TruthStory): TruthAttack {
  return {
    kind: story.kind,
    tenantId: story.tenantId,
    victim: story.victim.upn,
    attackerIp: story.attackerIp,
    attackerCountry: story.attackerCountry,
    forwardTo: story.forwardTo,
    compromisedUsers: story.compromisedUsers,
    sprayedUsers: story.sprayedUsers,
    consent: { ...story.consent, victim: story.consent.victim.upn },
    attack: story.attack,
    attackerRecordIds: story.attackerRecordIds,
    lookAlikes: story.lookAlikes.map((l) => ({
      kind: l.kind,
      user: l.user.upn,
      ip: l.ip,
      recordIds: l.recordIds,
    })),
    lookAlikeUsers: story.lookAlikeUsers,
  };
}

export interface Truth {
  /**
   * Every element occurrence in the scenario (a repeated record appears once per blob carrying it),
   * hostile ones included, each with the outcome a correct pipeline gives it.
   */
  records(filter?: TruthFilter): Generator<TruthRecord>;
  /** Ids of the records a correct pipeline stores (outcome 'store'). */
  recordIds(filter?: TruthFilter): Set<string>;
  /** The elements a correct pipeline rejects, with where they are. */
  rejectedRecords(filter?: TruthFilter): RejectedRecord[];
  blobs(filter?: TruthFilter): TruthBlob[];
  /** contentIds whose blob was answered in full with 200 (records, not an unreadable answer). */
  servedContentIds(): Set<string>;
  /** Ids to store from the blobs answered in full. */
  servedRecordIds(): Set<string>;
  /** The scripted stories of the scenario, in ScenarioSpec.stories order. */
  stories(): TruthStory[];
  /** The request log, oldest first (bounded). */
  readonly requests: RequestLogEntry[];
  clearRequests(): void;
}

/** When a blob can first be read in full; Infinity when never (it expires first, or is never listed). */
function readableFrom(b: BlobMeta): number {
  const from = Math.max(b.availableAt, b.unreadable?.until ?? b.availableAt);
  return from < b.contentExpiration ? from : Infinity;
}

/** Ring buffer, so a long soak test cannot grow the log without bound. */
export class RequestLog {
  private readonly buf: RequestLogEntry[] = [];
  private start = 0;
  /** Total entries ever appended; lets HTTP callers page with `since`. */
  total = 0;

  constructor(private readonly capacity = 100_000) {}

  push(e: RequestLogEntry): void {
    this.total += 1;
    if (this.buf.length < this.capacity) {
      this.buf.push(e);
    } else {
      this.buf[this.start] = e;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  entries(): RequestLogEntry[] {
    return [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }

  clear(): void {
    this.buf.length = 0;
    this.start = 0;
  }
}

export class GroundTruth implements Truth {
  /** Served blobs by tenant|contentId; ids are regenerated on demand to keep memory small. */
  private readonly served = new Map<string, BlobMeta>();

  constructor(
    private readonly store: ContentStore,
    readonly log: RequestLog,
    private readonly contentUri: (tenantId: string, contentId: string) => string,
  ) {}

  get requests(): RequestLogEntry[] {
    return this.log.entries();
  }

  clearRequests(): void {
    this.log.clear();
  }

  markServed(meta: BlobMeta): void {
    this.served.set(`${meta.tenantId}|${meta.contentId}`, meta);
  }

  private select(filter: TruthFilter = {}): BlobMeta[] {
    const tenant = filter.tenantId?.toLowerCase();
    const availableBy = filter.availableBy?.getTime();
    const notExpiredAt = filter.notExpiredAt?.getTime();
    const listableBy = filter.listableBy?.getTime();
    const readableBy = filter.readableBy?.getTime();
    return this.store.all.filter(
      (b) =>
        (tenant === undefined || b.tenantId === tenant) &&
        (filter.contentType === undefined || b.contentType === filter.contentType) &&
        (availableBy === undefined || b.availableAt <= availableBy) &&
        (notExpiredAt === undefined || notExpiredAt < b.contentExpiration) &&
        (listableBy === undefined || (b.availableAt <= listableBy && b.availableAt < b.contentExpiration)) &&
        (readableBy === undefined || readableFrom(b) <= readableBy),
    );
  }

  *records(filter?: TruthFilter): Generator<TruthRecord> {
    for (const b of this.select(filter)) {
      let position = 0;
      for (const r of this.store.refs(b)) {
        yield {
          id: r.id,
          tenantId: b.tenantId,
          contentType: b.contentType,
          contentId: b.contentId,
          creationTime: r.creationTime,
          position: position++,
          outcome: r.outcome,
          ...(r.hostile ? { hostile: r.hostile } : {}),
        };
      }
    }
  }

  rejectedRecords(filter?: TruthFilter): RejectedRecord[] {
    const out: RejectedRecord[] = [];
    // Only blobs with a hostile element can hold one: no need to enumerate the rest.
    for (const b of this.select(filter).filter((x) => x.hostile !== undefined)) {
      this.store.refs(b).forEach((r, position) => {
        if (r.outcome !== 'reject' || !r.hostile) return;
        out.push({
          tenantId: b.tenantId,
          contentType: b.contentType,
          contentId: b.contentId,
          position,
          kind: r.hostile,
          reason: REJECT_REASONS[r.hostile] ?? 'rejected',
          ...(r.id !== undefined ? { id: r.id } : {}),
        });
      });
    }
    return out;
  }

  recordIds(filter?: TruthFilter): Set<string> {
    const ids = new Set<string>();
    for (const b of this.select(filter))
      for (const id of this.store.ids(b)) if (id !== undefined) ids.add(id);
    return ids;
  }

  blobs(filter?: TruthFilter): TruthBlob[] {
    return this.select(filter).map((b) => ({
      tenantId: b.tenantId,
      contentType: b.contentType,
      contentId: b.contentId,
      contentUri: this.contentUri(b.tenantId, b.contentId),
      contentCreated: new Date(b.contentCreated).toISOString(),
      contentExpiration: new Date(b.contentExpiration).toISOString(),
      availableAt: new Date(b.availableAt).toISOString(),
      recordCount: b.recordCount,
      late: b.late,
      latenessHours: (b.availableAt - b.contentCreated) / HOUR,
      ...(b.dup ? { duplicateOf: b.dup.source.contentId, duplicateCount: b.dup.count } : {}),
      hasLargeRecord: b.largeIndex >= 0,
      explicit: b.explicit !== undefined && b.story === undefined,
      ...(b.story !== undefined ? { story: b.story } : {}),
      ...(b.unreadable
        ? {
            unreadableKind: b.unreadable.kind,
            unreadableUntil: unreadableUntil(b.unreadable, b.contentExpiration),
          }
        : {}),
      ...(b.hostile
        ? { hostileKind: b.hostile.kind, hostilePosition: (b.dup?.count ?? 0) + b.hostile.position }
        : {}),
      ...(b.bulky ? { bulky: true } : {}),
    }));
  }

  stories(): TruthStory[] {
    return this.store.stories.map((planned) => {
      const { story } = planned;
      const phaseOf = new Map<string, AttackPhase>();
      for (const [step, ids] of Object.entries(story.steps)) {
        const phase = STEP_PHASE[step];
        if (phase) for (const id of ids) phaseOf.set(id, phase);
      }
      const lookAlikeOf = new Map<string, LookAlikeKind>();
      for (const l of story.lookAlikes) for (const id of l.recordIds) lookAlikeOf.set(id, l.kind);
      const records = story.records.map(({ contentType, record }): TruthStoryRecord => {
        const id = String(record.Id);
        const contentId = planned.contentIds.get(id) ?? '';
        const blob = this.store.get(planned.tenantId, contentId);
        const phase = phaseOf.get(id);
        const lookAlike = lookAlikeOf.get(id);
        return {
          id,
          contentType,
          creationTime: String(record.CreationTime),
          contentId,
          availableAt: new Date(blob?.availableAt ?? 0).toISOString(),
          record,
          ...(phase ? { phase } : {}),
          ...(lookAlike ? { lookAlike } : {}),
        };
      });
      return {
        kind: planned.kind,
        tenantId: planned.tenantId,
        victim: story.victim,
        attackerIp: story.attackerIp,
        attackerCountry: story.attackerCountry,
        forwardTo: story.forwardTo,
        records,
        steps: story.steps,
        attack: story.attack,
        attackerRecordIds: records.filter((r) => r.phase !== undefined).map((r) => r.id),
        compromisedUsers: [story.victim.upn, story.consent.victim.upn],
        sprayedUsers: story.sprayedUsers,
        consent: {
          victim: story.consent.victim,
          appId: story.consent.app.appId,
          appDisplayName: story.consent.app.displayName,
          servicePrincipalId: story.consent.app.servicePrincipalId,
          scopes: story.consent.app.scopes,
          consentIp: story.consent.consentIp,
        },
        lookAlikes: story.lookAlikes,
        lookAlikeUsers: story.lookAlikes.map((l) => l.user.upn),
      };
    });
  }

  servedContentIds(): Set<string> {
    return new Set([...this.served.values()].map((b) => b.contentId));
  }

  servedRecordIds(): Set<string> {
    const ids = new Set<string>();
    for (const b of this.served.values())
      for (const id of this.store.ids(b)) if (id !== undefined) ids.add(id);
    return ids;
  }

  /** Cheap counts for `/_sim/truth/summary` (no record generation). */
  summary(now: Date): Record<string, unknown> {
    const t = now.getTime();
    let records = 0;
    let available = 0;
    let availableRecords = 0;
    let expired = 0;
    let neverListable = 0;
    let unreadable = 0;
    let hostile = 0;
    let bulky = 0;
    for (const b of this.store.all) {
      records += b.recordCount;
      if (b.availableAt <= t) {
        available += 1;
        availableRecords += b.recordCount;
      }
      if (t >= b.contentExpiration) expired += 1;
      if (b.availableAt >= b.contentExpiration) neverListable += 1;
      if (b.unreadable) unreadable += 1;
      if (b.hostile) hostile += 1;
      if (b.bulky) bulky += 1;
    }
    return {
      now: now.toISOString(),
      blobs: this.store.all.length,
      recordOccurrences: records,
      availableBlobs: available,
      availableRecordOccurrences: availableRecords,
      expiredBlobs: expired,
      neverListableBlobs: neverListable,
      unreadableBlobs: unreadable,
      hostileRecords: hostile,
      bulkyBlobs: bulky,
      servedBlobs: this.served.size,
      requests: this.log.total,
    };
  }
}
