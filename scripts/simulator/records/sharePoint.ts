import type { AuditRecord } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import type { Ctx, SimSite, SimUser } from './common';
import {
  BROWSER_AGENTS,
  baseRecord,
  fileName,
  personalSite,
  spoUserKey,
  userIp,
  weighted,
  guid,
  hexOf,
} from './common';

export type FileOperation =
  | 'FileAccessed'
  | 'FileDownloaded'
  | 'FileModified'
  | 'FileUploaded'
  | 'FileSyncDownloadedFull'
  | 'FileSyncUploadedFull'
  | 'FilePreviewed'
  | 'FileDeleted'
  | 'SecureLinkUsed';

const SYNC_AGENT = (rng: Rng): string =>
  `Microsoft SkyDriveSync ${rng.int(23, 25)}.${rng.int(100, 250)}.${String(rng.int(100, 1231)).padStart(4, '0')}.0001 ship; Windows NT 10.0 (${rng.pick(['19045', '22631', '26100'])})`;

const TEAM_FOLDERS = [
  'Shared Documents',
  'Shared Documents/General',
  'Shared Documents/2024',
  'Shared Documents/Verträge',
];
const PERSONAL_FOLDERS = [
  'Documents',
  'Documents',
  'Documents/Desktop',
  'Documents/Projects',
  'Documents/Microsoft Teams Chat Files',
];

export function pickSite(ctx: Ctx, user: SimUser): SimSite {
  const { rng, tenant } = ctx;
  if (rng.chance(0.55)) return rng.pick(tenant.sites);
  return personalSite(tenant, rng.chance(0.85) ? user : rng.pick(tenant.users));
}

interface FileRef {
  site: SimSite;
  folder: string;
  name: string;
  ext: string;
  listItemId: string;
}

function fileRef(rng: Rng, site: SimSite): FileRef {
  const { name, ext } = fileName(rng);
  const folder = rng.pick(site.workload === 'OneDrive' ? PERSONAL_FOLDERS : TEAM_FOLDERS);
  return { site, folder, name, ext, listItemId: guid(rng) };
}

/** Fields SharePoint puts after the common ones; key order follows real records. */
function spoFields(rng: Rng, f: FileRef, userAgent: string, itemType: string): Record<string, unknown> {
  return {
    CorrelationId: guid(rng),
    EventSource: 'SharePoint',
    ItemType: itemType,
    ListId: f.site.listId,
    ListItemUniqueId: f.listItemId,
    Site: f.site.siteId,
    UserAgent: userAgent,
    WebId: f.site.webId,
  };
}

interface Actor {
  userId: string;
  userKey: string;
  ip: string;
}

function actorOf(user: SimUser, ip: string): Actor {
  return { userId: user.upn, userKey: spoUserKey(user), ip };
}

const APP_ACTOR: Actor = {
  userId: 'app@sharepoint',
  userKey: 'i:0i.t|00000003-0000-0ff1-ce00-000000000000|app@sharepoint',
  ip: '',
};

export interface FileOperationOptions {
  user: SimUser;
  ip: string;
  operation: FileOperation;
  site?: SimSite;
  userAgent?: string;
}

/** RecordType 6 file operation (14 for `SecureLinkUsed`, which has the same shape). */
export function fileOperationRecord(ctx: Ctx, o: FileOperationOptions): AuditRecord {
  return fileRecord(ctx, actorOf(o.user, o.ip), o.operation, o.site ?? pickSite(ctx, o.user), o.userAgent);
}

function fileRecord(
  ctx: Ctx,
  actor: Actor,
  operation: FileOperation,
  site: SimSite,
  agent?: string,
): AuditRecord {
  const { rng } = ctx;
  const sync = operation.startsWith('FileSync');
  const userAgent = agent ?? (sync ? SYNC_AGENT(rng) : actor.ip === '' ? '' : rng.pick(BROWSER_AGENTS));
  const f = fileRef(rng, site);
  const r = baseRecord(ctx, {
    recordType: operation === 'SecureLinkUsed' ? 14 : 6,
    operation,
    userKey: actor.userKey,
    userType: 0,
    workload: site.workload,
    clientIp: actor.ip,
    objectId: `${site.url}${f.folder}/${f.name}`,
    userId: actor.userId,
  });
  Object.assign(r, spoFields(rng, f, userAgent, 'File'));
  if (sync) {
    r.ApplicationDisplayName = 'OneDrive SyncEngine';
    r.ApplicationId = 'ab9b8c07-8f02-4f72-87fa-80105867a763';
    r.MachineDomainInfo = rng.chance(0.7) ? 'DomainJoined' : 'Unknown';
    r.MachineId = guid(rng);
  } else if (rng.chance(0.3)) {
    r.ApplicationDisplayName = rng.pick(['Microsoft Teams', 'Microsoft Office', 'OfficeHome']);
    r.ApplicationId = guid(rng);
  }
  if (rng.chance(0.4)) {
    r.DeviceDisplayName = `LAPTOP-${hexOf(rng, 7).toUpperCase()}`;
    r.IsManagedDevice = rng.chance(0.6);
  }
  if (
    ['FileDownloaded', 'FileUploaded', 'FileSyncDownloadedFull', 'FileSyncUploadedFull'].includes(operation)
  ) {
    r.FileSizeBytes = rng.int(4_000, 40_000_000);
  }
  r.SourceFileExtension = f.ext;
  r.SiteUrl = site.url;
  r.SourceFileName = f.name;
  r.SourceRelativeUrl = f.folder;
  return r;
}

function pageViewedRecord(ctx: Ctx, user: SimUser, ip: string): AuditRecord {
  const { rng } = ctx;
  const site = pickSite(ctx, user);
  const page =
    site.workload === 'OneDrive'
      ? '_layouts/15/onedrive.aspx'
      : rng.pick(['SitePages/Home.aspx', 'SitePages/News.aspx']);
  const r = baseRecord(ctx, {
    recordType: 4,
    operation: 'PageViewed',
    userKey: spoUserKey(user),
    userType: 0,
    workload: site.workload,
    clientIp: ip,
    objectId: `${site.url}${page}`,
    userId: user.upn,
  });
  Object.assign(r, {
    CorrelationId: guid(rng),
    CustomUniqueId: rng.chance(0.5) ? 'true' : 'false',
    EventSource: 'SharePoint',
    ItemType: 'Page',
    ListItemUniqueId: guid(rng),
    Site: site.siteId,
    UserAgent: rng.pick(BROWSER_AGENTS),
    WebId: site.webId,
  });
  return r;
}

type SharingOp = 'SharingSet' | 'AnonymousLinkCreated' | 'AddedToSecureLink';

/** RecordType 14. Unlike file ops, sharing records put the file name in `SourceRelativeUrl` and drop the slash on `SiteUrl`. */
function sharingRecord(ctx: Ctx, user: SimUser, ip: string, operation: SharingOp): AuditRecord {
  const { rng, tenant } = ctx;
  const site = pickSite(ctx, user);
  const f = fileRef(rng, site);
  const r = baseRecord(ctx, {
    recordType: 14,
    operation,
    userKey: spoUserKey(user),
    userType: 0,
    workload: site.workload,
    clientIp: ip,
    objectId: `${site.url}${f.folder}/${f.name}`,
    userId: user.upn,
  });
  const sharingId = guid(rng);
  const linkKind = rng.pick(['View', 'Edit']);
  switch (operation) {
    case 'SharingSet': {
      const [name, type] = rng.pick([
        [`SharingLinks.${f.listItemId}.OrganizationView.${sharingId}`, 'SharePointGroup'],
        ['Limited Access System Group', 'SharePointGroup'],
        [rng.pick(tenant.users).upn, 'Member'],
      ] as const);
      r.EventData = `<Permissions granted>${rng.pick(['Contribute', 'Read', 'Limited Access'])}</Permissions granted>`;
      Object.assign(r, spoFields(rng, f, rng.pick(BROWSER_AGENTS), 'File'));
      r.TargetUserOrGroupName = name;
      r.TargetUserOrGroupType = type;
      break;
    }
    case 'AnonymousLinkCreated':
      r.EventData = `<Type>${linkKind}</Type>`;
      Object.assign(r, spoFields(rng, f, rng.pick(BROWSER_AGENTS), 'File'));
      r.UniqueSharingId = sharingId;
      break;
    case 'AddedToSecureLink':
      r.EventData = `<Type>${linkKind}</Type><MembersCanShare>Disabled</MembersCanShare>`;
      Object.assign(r, spoFields(rng, f, rng.pick(BROWSER_AGENTS), 'File'));
      r.TargetUserOrGroupName = `${rng.pick(['jordan', 'sam', 'kai', 'alex'])}.${hexOf(rng, 4)}@${rng.pick(['partner.example.com', 'supplier.example.net', 'auditors.example.org'])}`;
      r.TargetUserOrGroupType = 'Guest';
      r.UniqueSharingId = sharingId;
      break;
  }
  r.SourceFileExtension = f.ext;
  r.SiteUrl = site.url.replace(/\/$/, '');
  r.SourceFileName = f.name;
  r.SourceRelativeUrl = `${f.folder}/${f.name}`;
  return r;
}

export function makeSharePointRecord(ctx: Ctx): AuditRecord {
  const { rng, tenant } = ctx;
  const user = rng.pick(tenant.users);
  const ip = userIp(ctx, user);
  const op = weighted(rng, [
    ['FileAccessed', 40],
    ['FileModified', 13],
    ['FileDownloaded', 10],
    ['FileUploaded', 7],
    ['FilePreviewed', 5],
    ['FileSyncDownloadedFull', 4],
    ['FileSyncUploadedFull', 2],
    ['FileDeleted', 2.5],
    ['PageViewed', 8],
    ['SharingSet', 4],
    ['AnonymousLinkCreated', 1.5],
    ['AddedToSecureLink', 2],
    ['SecureLinkUsed', 2],
  ] as const);
  switch (op) {
    case 'PageViewed':
      return pageViewedRecord(ctx, user, ip);
    case 'SharingSet':
    case 'AnonymousLinkCreated':
    case 'AddedToSecureLink':
      return sharingRecord(ctx, user, ip, op);
    default: {
      // Some writes come from SharePoint itself (AutoSave, retention), with no client address.
      const actor = op === 'FileModified' && rng.chance(0.05) ? APP_ACTOR : actorOf(user, ip);
      return fileRecord(ctx, actor, op, pickSite(ctx, user));
    }
  }
}

/** RecordType 56 `ListColumnUpdated` carrying the column's schema XML; the SharePoint shape that can grow large. */
export function listColumnUpdatedRecord(ctx: Ctx, user: SimUser, ip: string, eventData: string): AuditRecord {
  const { rng } = ctx;
  const site = rng.pick(ctx.tenant.sites);
  const r = baseRecord(ctx, {
    recordType: 56,
    operation: 'ListColumnUpdated',
    userKey: spoUserKey(user),
    userType: 0,
    workload: 'SharePoint',
    clientIp: ip,
    objectId: `${site.url}${site.listId}/${guid(rng)}`,
    userId: user.upn,
  });
  Object.assign(r, {
    CorrelationId: guid(rng),
    EventSource: 'SharePoint',
    ItemType: 'Field',
    ListId: site.listId,
    Site: site.siteId,
    UserAgent: rng.pick(BROWSER_AGENTS),
    WebId: site.webId,
    EventData: eventData,
    IsDocLib: 'true',
    ListBaseTemplateType: '101',
    ListBaseType: 'DocumentLibrary',
    ListTitle: site.library,
  });
  return r;
}
