import type { AuditRecord, ContentType } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import { resourceAccessEntry, updateApplicationRecord } from './azureAd';
import type { Ctx, TenantProfile } from './common';
import { userIp, guid, hexOf } from './common';
import { detectedValue, dlpRecord } from './dlp';
import { folderItem, mailItemsAccessedRecord } from './exchange';
import { airAction, airInvestigationRecord } from './general';
import { listColumnUpdatedRecord } from './sharePoint';

interface DlpPolicyDetail {
  Rules: Array<{ ConditionsMatched: { SensitiveInformation: Array<Record<string, unknown>> } }>;
}

export function recordBytes(record: AuditRecord): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8');
}

/** Growable parts are drawn once, in order, so `build(n)` always sees the same first n units. */
function unitSource<T>(rng: Rng, make: (rng: Rng) => T): (n: number) => T[] {
  const units: T[] = [];
  return (n) => {
    while (units.length < n) units.push(make(rng));
    return units.slice(0, n);
  };
}

/** Find the unit count whose record lands within ~3% of `target` (secant steps on a near-linear size). */
function fitToSize(target: number, build: (n: number) => AuditRecord): AuditRecord {
  const empty = build(0);
  const s0 = recordBytes(empty);
  if (s0 >= target) return empty;
  let n = 8;
  let record = build(n);
  let size = recordBytes(record);
  for (let i = 0; i < 12 && Math.abs(size - target) > target * 0.03; i++) {
    const perUnit = Math.max(1, (size - s0) / n);
    const next = Math.max(1, Math.round((target - s0) / perUnit));
    if (next === n) break;
    n = next;
    record = build(n);
    size = recordBytes(record);
  }
  return record;
}

/**
 * One realistic record of about `approxBytes` (JSON, UTF-8), for exercising size limits (queue messages,
 * the 2 MB Cosmos item cap). Below the shape's minimum size the minimum-size record is returned.
 *  - Audit.AzureActiveDirectory: `Update application.` with a huge RequiredResourceAccess in ModifiedProperties
 *  - Audit.Exchange: aggregated `MailItemsAccessed` bind with thousands of FolderItems
 *  - Audit.SharePoint: `ListColumnUpdated` whose EventData holds a choice column's schema XML
 *  - Audit.General: `AirInvestigationData` with many JSON-string Actions
 *  - DLP.All: `DLPRuleMatch` with SensitiveInfoDetectionIsIncluded and many DetectedValues
 */
export function makeLargeRecord(
  contentType: ContentType,
  creationTime: Date,
  tenant: TenantProfile,
  rng: Rng,
  approxBytes: number,
): AuditRecord {
  if (!(approxBytes > 0)) throw new Error('makeLargeRecord: approxBytes must be positive');
  rng.next(); // forks below derive from the current state; advance so repeated calls differ
  const baseCtx = (): Ctx => ({ tenant, rng: rng.fork('large-base'), time: creationTime });
  const units = rng.fork('large-units');

  switch (contentType) {
    case 'Audit.AzureActiveDirectory': {
      const ctx = baseCtx();
      const admin = ctx.rng.pick(tenant.admins);
      const app = ctx.rng.pick(tenant.ownApps);
      const before = [resourceAccessEntry(ctx.rng, 3)];
      const more = unitSource(units, (r) => resourceAccessEntry(r, r.int(4, 12)));
      return fitToSize(approxBytes, (n) =>
        updateApplicationRecord(baseCtx(), admin, app, before, [...before, ...more(n)]),
      );
    }
    case 'Audit.Exchange': {
      const ctx = baseCtx();
      const user = ctx.rng.pick(tenant.users);
      const base = mailItemsAccessedRecord(ctx, {
        user,
        ip: userIp(ctx, user),
        accessType: 'Bind',
        itemCount: 0,
      });
      const items = unitSource(units, (r) => folderItem(r, tenant, true));
      const folderRng = rng.fork('large-folders');
      const paths = ['\\Inbox', '\\Archive', '\\Sent Items', '\\Inbox\\Finance', '\\Deleted Items'];
      const folders = unitSource(folderRng, (r) => ({ Id: `LgAAAAC${hexOf(r, 53)}`, Path: r.pick(paths) }));
      const perFolder = 400;
      return fitToSize(approxBytes, (n) => {
        const list = items(n);
        const refs = folders(Math.ceil(n / perFolder));
        return {
          ...base,
          Folders: refs.map((ref, k) => ({
            ...ref,
            FolderItems: list.slice(k * perFolder, (k + 1) * perFolder),
          })),
          OperationCount: n,
        };
      });
    }
    case 'Audit.SharePoint': {
      const ctx = baseCtx();
      const user = ctx.rng.pick(tenant.users);
      const base = listColumnUpdatedRecord(ctx, user, userIp(ctx, user), '');
      const fieldId = guid(ctx.rng);
      const choices = unitSource(
        units,
        (r) =>
          `<CHOICE>${r.pick(['Project', 'Kunde', 'Cost centre', 'Región'])} ${hexOf(r, 6).toUpperCase()}</CHOICE>`,
      );
      return fitToSize(approxBytes, (n) => ({
        ...base,
        EventData: `<Field Type="Choice" DisplayName="Cost Centre" Required="FALSE" Format="Dropdown" ID="{${fieldId}}" StaticName="CostCentre" Name="CostCentre"><CHOICES>${choices(n).join('')}</CHOICES></Field>`,
      }));
    }
    case 'Audit.General': {
      const base = airInvestigationRecord(baseCtx(), []);
      const investigationId = String(base.InvestigationId);
      const actions = unitSource(units, (r) =>
        airAction(r, tenant, investigationId, creationTime, r.int(2, 4)),
      );
      return fitToSize(approxBytes, (n) => ({ ...base, Actions: actions(n) }));
    }
    case 'DLP.All': {
      const ctx = baseCtx();
      const workload = ctx.rng.pick(['SharePoint', 'OneDrive', 'Exchange'] as const);
      // Start from a high-volume match, then grow each sensitive type's DetectedValues.
      const base = dlpRecord(ctx, { workload, detectedValues: 10 });
      const policies = base.PolicyDetails as DlpPolicyDetail[];
      const infos = policies[0]?.Rules[0]?.ConditionsMatched.SensitiveInformation ?? [];
      const sources = infos.map((info, i) =>
        unitSource(rng.fork(`large-dlp-${i}`), (r) =>
          detectedValue(r, {
            id: String(info.SensitiveType),
            name: String(info.SensitiveInformationTypeName),
          }),
        ),
      );
      return fitToSize(approxBytes, (n) => {
        const share = Math.ceil(n / Math.max(1, infos.length));
        const grown = infos.map((info, i) => ({
          ...info,
          Count: share,
          UniqueCount: share,
          SensitiveInformationDetections: {
            DetectedValues: sources[i]?.(share) ?? [],
            ResultsTruncated: false,
          },
        }));
        return {
          ...base,
          PolicyDetails: policies.map((p, pi) =>
            pi > 0
              ? p
              : {
                  ...p,
                  Rules: p.Rules.map((rule, ri) =>
                    ri > 0
                      ? rule
                      : {
                          ...rule,
                          ConditionsMatched: { ...rule.ConditionsMatched, SensitiveInformation: grown },
                        },
                  ),
                },
          ),
        };
      });
    }
  }
}
