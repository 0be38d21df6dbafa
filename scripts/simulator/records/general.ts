import type { AuditRecord } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import type { Ctx, SimTeam, SimUser, TenantProfile } from './common';
import {
  BROWSER_AGENTS,
  addSeconds,
  baseRecord,
  exchangeClientIp,
  fileName,
  formatCreationTime,
  formatNestedTime,
  internetMessageId,
  personalSite,
  subject,
  userIp,
  weighted,
  guid,
  hexOf,
} from './common';

// ---------------------------------------------------------------------------------------------
// Microsoft Teams (RecordType 25)

function teamsBase(ctx: Ctx, operation: string, user: SimUser, withIp: boolean): AuditRecord {
  return baseRecord(ctx, {
    recordType: 25,
    operation,
    userKey: user.objectId,
    userType: 0,
    workload: 'MicrosoftTeams',
    clientIp: withIp ? userIp(ctx, user) : undefined,
    userId: user.upn,
  });
}

function participantInfo(tenant: TenantProfile, guests: boolean): Record<string, unknown> {
  return {
    HasForeignTenantUsers: false,
    HasGuestUsers: guests,
    HasOtherGovernceUsers: false,
    HasUnauthenticatedUsers: false,
    ParticipatingDomains: guests ? ['partner.example.com'] : [],
    ParticipatingSIPDomains: [],
    ParticipatingTenantIds: [tenant.tenantId],
  };
}

function messageId(ctx: Ctx): string {
  return String(ctx.time.getTime() - ctx.rng.int(0, 999));
}

function teamsRecord(ctx: Ctx, operation: string): AuditRecord {
  const { rng, tenant } = ctx;
  const user = rng.pick(tenant.users);
  const team: SimTeam = rng.pick(tenant.teams);
  switch (operation) {
    case 'MessageSent':
    case 'ReactedToMessage': {
      const r = teamsBase(ctx, operation, user, true);
      const kind = rng.pick(['OneOnOne', 'GroupChat', 'Channel'] as const);
      r.ChatThreadId = kind === 'Channel' ? team.threadId : `19:${hexOf(rng, 32)}@thread.v2`;
      r.CommunicationType = kind;
      r.MessageId = messageId(ctx);
      if (operation === 'ReactedToMessage')
        r.MessageReactionType = rng.pick(['like', 'heart', 'laugh', 'surprised']);
      if (kind === 'Channel') {
        r.ChannelName = rng.pick(['General', 'Announcements', 'Random', 'Planung']);
        r.TeamGuid = team.threadId;
        r.TeamName = team.name;
      }
      r.ParticipantInfo = participantInfo(tenant, rng.chance(0.1));
      r.ResourceTenantId = tenant.tenantId;
      return r;
    }
    case 'TeamsSessionStarted': {
      const r = teamsBase(ctx, operation, user, true);
      r.ObjectId = 'Unknown (Unknown)';
      r.ExtraProperties = [
        { Key: 'TimeZone', Value: rng.pick(['UTC', 'Europe/Berlin', 'America/New_York']) },
        { Key: 'OsName', Value: rng.pick(['windows', 'osx', 'ios', 'android']) },
        { Key: 'ClientName', Value: 'skypeteams' },
        {
          Key: 'ClientVersion',
          Value: `${rng.int(24, 25)}${rng.int(100, 300)}.${rng.int(1000, 3000)}.${rng.int(1000, 9999)}.${rng.int(1000, 9999)}`,
        },
      ];
      return r;
    }
    case 'MemberAdded':
    case 'MemberRemoved': {
      const r = teamsBase(ctx, operation, user, false);
      r.AADGroupId = team.groupId;
      r.CommunicationType = 'Team';
      r.ItemName = team.name;
      r.Members = Array.from(
        {
          length: weighted(rng, [
            [1, 6],
            [rng.int(2, 6), 3],
            [rng.int(7, 15), 1],
          ] as const),
        },
        () => {
          const m = rng.pick(tenant.users);
          return { DisplayName: m.displayName, Role: rng.chance(0.9) ? 1 : 2, UPN: m.upn };
        },
      );
      r.TeamGuid = team.threadId;
      r.TeamName = team.name;
      return r;
    }
    case 'ChannelAdded': {
      const r = teamsBase(ctx, operation, user, false);
      r.AADGroupId = team.groupId;
      r.ChannelGuid = `19:${hexOf(rng, 32)}@thread.tacv2`;
      r.ChannelName = rng.pick(['Q3 planning', 'Incidents', 'Kundenprojekte', 'Launch 🚀']);
      r.ChannelType = rng.chance(0.8) ? 'Standard' : 'Private';
      r.CommunicationType = 'Team';
      r.TeamGuid = team.threadId;
      r.TeamName = team.name;
      return r;
    }
    default: {
      // TeamCreated, often written by the service itself.
      const byApp = rng.chance(0.5);
      const r = baseRecord(ctx, {
        recordType: 25,
        operation: 'TeamCreated',
        userKey: byApp ? '' : user.objectId,
        userType: byApp ? 5 : 0,
        workload: 'MicrosoftTeams',
        userId: byApp ? 'Application' : user.upn,
      });
      r.AADGroupId = team.groupId;
      r.TeamGuid = team.threadId;
      r.TeamName = team.name;
      return r;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Power BI (RecordType 20)

const REPORTS = [
  'Sales Overview',
  'Finance KPIs',
  'HR Headcount',
  'Pipeline 2025',
  'Umsatz nach Region',
  'Ops Dashboard',
];
const WORKSPACES = ['Finance', 'Sales Analytics', 'My workspace', 'Executive', 'Área Comercial'];

function powerBiRecord(ctx: Ctx, operation: string): AuditRecord {
  const { rng, tenant } = ctx;
  const user = rng.pick(tenant.users);
  const report = rng.pick(REPORTS);
  const workspace = rng.pick(WORKSPACES);
  const r = baseRecord(ctx, {
    recordType: 20,
    operation,
    userKey: user.puid,
    userType: 0,
    workload: 'PowerBI',
    clientIp: userIp(ctx, user),
    objectId: report,
    userId: user.upn,
  });
  const workspaceId = guid(rng);
  Object.assign(r, {
    UserAgent: rng.pick(BROWSER_AGENTS),
    Activity: operation,
    ItemName: report,
    WorkSpaceName: workspace,
    WorkspaceId: workspaceId,
    RequestId: guid(rng),
    ActivityId: guid(rng),
    IsSuccess: true,
  });
  if (operation === 'CreateArtifact') {
    r.Experience = rng.pick(['Lakehouse', 'Notebook', 'Data Engineering']);
    r.ObjectType = rng.pick(['Lakehouse', 'Notebook']);
    r.ObjectDisplayName = `${report.toLowerCase().replace(/\s+/g, '_')}_${rng.int(1, 9)}`;
    // Real captures carry this list serialised into a string.
    const props = [{ Name: 'SystemArtifactType', Value: 'None' }];
    r.OperationProperties = rng.chance(0.5) ? JSON.stringify(props) : props;
    return r;
  }
  Object.assign(r, {
    DatasetName: report,
    ReportName: report,
    CapacityId: guid(rng),
    CapacityName: rng.pick(['Premium Per User - Reserved', 'Shared On Premium - Reserved', 'FT1']),
    DatasetId: guid(rng),
    ReportId: guid(rng),
    ArtifactId: guid(rng),
    ArtifactName: report,
    ReportType: 'PowerBIReport',
    DistributionMethod: rng.pick(['Workspace', 'App', 'Shared']),
    ConsumptionMethod: rng.pick(['Power BI Web', 'Power BI Mobile']),
  });
  if (operation === 'ExportReport') {
    r.ExportEventStartDateTimeUTC = formatNestedTime(ctx.time, rng);
    r.ExportedArtifactInfo = {
      ExportType: rng.pick(['PDF', 'PowerPoint', 'Excel']),
      ArtifactType: 'Report',
      ArtifactId: rng.int(100_000, 999_999),
    };
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Viva Engage / Yammer (RecordType 22)

function yammerRecord(ctx: Ctx, operation: string): AuditRecord {
  const { rng, tenant } = ctx;
  const user = rng.pick(tenant.users);
  const group = rng.pick(['All Company', 'Sales', 'Social Club', 'Ideas', 'Café Talk']);
  const ip = userIp(ctx, user);
  const r = baseRecord(ctx, {
    recordType: 22,
    operation,
    resultStatus: 'TRUE',
    userKey: user.puid.toLowerCase(),
    userType: 0,
    workload: 'Yammer',
    clientIp: rng.chance(0.5) ? exchangeClientIp(rng, ip) : ip,
    objectId: group,
    userId: user.upn,
  });
  // 11-digit ids: a reader that parses into 32-bit ints breaks here.
  r.ActorUserId = user.upn;
  r.ActorYammerUserId = rng.int(10_000_000_000, 99_999_999_999);
  r.GroupName = group;
  if (operation === 'MessageCreated') {
    r.MessageId = rng.int(1_000_000_000_000, 9_999_999_999_999);
    r.ThreadId = rng.int(1_000_000_000_000, 9_999_999_999_999);
  }
  r.YammerNetworkId = rng.int(1_000_000_000, 9_999_999_999);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Security & Compliance alerts (RecordType 40)

const ALERTS: ReadonlyArray<
  readonly [name: string, category: string, op: string, workload: string, severity: string]
> = [
  ['Elevation of Exchange admin privilege', 'AccessGovernance', 'GrantAdminPermission', 'Exchange', 'Low'],
  ['Creation of forwarding/redirect rule', 'ThreatManagement', 'New-InboxRule', 'Exchange', 'Informational'],
  ['Email reported by user as malware or phish', 'ThreatManagement', 'UserSubmission', 'Exchange', 'Low'],
  ['Suspicious email sending patterns detected', 'ThreatManagement', 'CompromisedUser', 'Exchange', 'Medium'],
  ['Unusual volume of file deletion', 'DataGovernance', 'FileDeleted', 'SharePoint', 'Medium'],
];

function alertRecord(ctx: Ctx, operation: 'AlertTriggered' | 'AlertEntityGenerated'): AuditRecord {
  const { rng, tenant } = ctx;
  const user = rng.pick(tenant.users);
  const [name, category, op, wl, severity] = rng.pick(ALERTS);
  const alertId = guid(rng);
  const policyId = guid(rng);
  const r = baseRecord(ctx, {
    recordType: 40,
    operation,
    resultStatus: 'Succeeded',
    userKey: 'SecurityComplianceAlerts',
    userType: 4,
    workload: 'SecurityComplianceCenter',
    objectId: operation === 'AlertEntityGenerated' ? user.upn : alertId,
    userId: 'SecurityComplianceAlerts',
  });
  const windowStart = addSeconds(ctx.time, -rng.int(60, 900));
  const data: Record<string, string> =
    operation === 'AlertTriggered'
      ? {
          f3u: user.upn,
          ts: formatNestedTime(windowStart, rng),
          te: formatNestedTime(ctx.time, rng),
          op,
          wl,
          tid: tenant.tenantId,
          tdc: '1',
          reid: guid(rng),
          rid: guid(rng),
          cid: policyId,
          ad: `This alert is triggered when ${name.toLowerCase()} is detected. -V1.0.0.${rng.int(1, 9)}`,
          lon: op,
          an: name,
          sev: severity,
        }
      : {
          etype: 'User',
          eid: user.upn,
          tid: tenant.tenantId,
          ts: formatNestedTime(windowStart, rng),
          te: formatNestedTime(ctx.time, rng),
          op,
          tdc: '1',
          suid: user.upn,
          ut: 'Regular',
          lon: op,
        };
  if (operation === 'AlertEntityGenerated') r.AlertEntityId = user.upn;
  Object.assign(r, {
    AlertId: alertId,
    AlertLinks: [{ AlertLinkHref: `https://security.microsoft.com/alerts/${alertId}` }],
    AlertType: 'System',
    Category: category,
    Comments: 'New alert',
    Data: JSON.stringify(data),
  });
  if (operation === 'AlertEntityGenerated') r.EntityType = 'User';
  Object.assign(r, {
    Name: name,
    PolicyId: policyId,
    Severity: severity,
    Source: 'Office 365 Security & Compliance',
    Status: 'Active',
  });
  return r;
}

// ---------------------------------------------------------------------------------------------
// Copilot (RecordType 261)

function copilotRecord(ctx: Ctx): AuditRecord {
  const { rng, tenant } = ctx;
  const user = rng.pick(tenant.users);
  const r = baseRecord(ctx, {
    recordType: 261,
    operation: 'CopilotInteraction',
    userKey: user.objectId,
    userType: 0,
    workload: 'Copilot',
    clientIp: userIp(ctx, user),
    userId: user.upn,
  });
  const appHost = weighted(rng, [
    ['bizchat', 4],
    ['Word', 2],
    ['Teams', 2],
    ['Outlook', 2],
    ['Excel', 1],
    ['PowerPoint', 1],
  ] as const);
  const site = rng.chance(0.5) ? rng.pick(tenant.sites) : personalSite(tenant, user);
  const resources = Array.from(
    {
      length: weighted(rng, [
        [0, 4],
        [rng.int(1, 3), 4],
        [rng.int(4, 8), 1],
      ] as const),
    },
    () => {
      const f = fileName(rng);
      return {
        Id: `${site.url}${site.library}/${f.name}`,
        Name: f.name,
        SiteUrl: site.url,
        Type: f.ext,
        Action: 'Read',
        ...(rng.chance(0.2) ? { SensitivityLabelId: guid(rng) } : {}),
      };
    },
  );
  const contexts =
    appHost === 'bizchat'
      ? []
      : [
          {
            Id: `${site.url}${site.library}/${fileName(rng).name}`,
            Type: appHost === 'Teams' ? 'TeamsChat' : 'docx',
          },
        ];
  const data: Record<string, unknown> = {
    AccessedResources: resources,
    AppHost: appHost,
    Contexts: contexts,
    MessageIds: [],
    ThreadId: `19:${hexOf(rng, 40)}@thread.v2`,
  };
  if (rng.chance(0.6)) {
    const turns = rng.int(1, 3);
    data.Messages = Array.from({ length: turns * 2 }, (_, i) => ({
      Id: String(ctx.time.getTime() - (turns * 2 - i) * rng.int(1000, 20_000)),
      isPrompt: i % 2 === 0,
    }));
  }
  if (rng.chance(0.25)) data.AISystemPlugin = [{ Id: 'BingWebSearch', Name: 'BingWebSearch' }];
  r.CopilotEventData = data;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Automated investigation (RecordType 64): the rare multi-KB record of this content type

export function airAction(
  rng: Rng,
  tenant: TenantProfile,
  investigationId: string,
  time: Date,
  entities: number,
): string {
  const victim = rng.pick(tenant.users);
  return JSON.stringify({
    $id: '1',
    ActionId: `urn:EmailZapper:${hexOf(rng, 32)}`,
    InvestigationId: investigationId,
    ActionApproval: 'None',
    ActionType: 'EmailRemediation',
    ActionStatus: rng.pick(['Completed', 'Skipped', 'Pending']),
    Entities: Array.from({ length: entities }, (_, i) => ({
      $id: String(i + 2),
      Recipient: victim.upn,
      Urls: Array.from(
        { length: rng.int(1, 4) },
        () => `https://login-${hexOf(rng, 6)}.example.net/${hexOf(rng, 10)}`,
      ),
      Sender: `billing@${hexOf(rng, 6)}.example.org`,
      P1Sender: `bounce-${hexOf(rng, 8)}@mailer.example.org`,
      SenderIP: `192.0.2.${rng.int(1, 254)}`,
      ReceivedDate: formatNestedTime(time, rng),
      NetworkMessageId: guid(rng),
      InternetMessageId: internetMessageId(rng, tenant),
      Subject: subject(rng),
      AntispamDirection: 'Inbound',
      DeliveryAction: rng.pick(['Delivered', 'Junked', 'Blocked']),
      DeliveryLocation: rng.pick(['Inbox/folder', 'JunkFolder']),
      ThreatDetectionMethods: ['URL detonation reputation', 'Spoof intra-org'],
      Type: 'mail',
    })),
    RelatedAlertIds: [guid(rng)],
    StartTimeUtc: formatNestedTime(time, rng),
    ActionTrigger: 'Automatic',
    ActionSource: 'AutomatedInvestigation',
    TimestampUtc: formatNestedTime(time, rng),
  });
}

export function airInvestigationRecord(ctx: Ctx, actions: string[]): AuditRecord {
  const { rng, tenant } = ctx;
  const id = guid(rng);
  const investigationId = `urn:ZappedEmailInvestigation:${hexOf(rng, 32)}`;
  const r = baseRecord(ctx, {
    id,
    recordType: 64,
    operation: 'AirInvestigationData',
    userKey: 'AirInvestigation',
    userType: 4,
    workload: 'AirInvestigation',
    objectId: id,
    userId: 'AirInvestigation',
  });
  const started = addSeconds(ctx.time, -rng.int(600, 86_400));
  Object.assign(r, {
    InvestigationId: investigationId,
    InvestigationName: `Malicious mail is zapped - ${investigationId}`,
    InvestigationType: 'ZappedEmailInvestigation',
    Status: rng.pick(['Remediated', 'Running', 'No threats found']),
    StartTimeUtc: formatCreationTime(started),
    EndTimeUtc: formatCreationTime(ctx.time),
    LastUpdateTimeUtc: formatCreationTime(ctx.time),
    RunningTime: String(Math.round((ctx.time.getTime() - started.getTime()) / 1000)),
    DeepLinkUrl: `https://security.microsoft.com/airinvestigation/${investigationId}`,
    Actions: actions,
    Data: JSON.stringify({
      Version: '3.0',
      VendorName: 'Microsoft',
      ProviderName: 'OATP',
      AlertType: guid(rng),
      StartTimeUtc: formatNestedTime(started, rng),
      EndTimeUtc: formatNestedTime(ctx.time, rng),
      Status: 'InProgress',
      Severity: 'Informational',
      ConfidenceLevel: 'Unknown',
      IsIncident: false,
      ProviderAlertId: guid(rng),
      SystemAlertId: guid(rng),
      Investigations: [{ $id: '1', Id: investigationId, InvestigationStatus: 'Running' }],
      InvestigationIds: [investigationId],
      ResourceIdentifiers: [{ $id: '2', AadTenantId: tenant.tenantId, Type: 'AAD' }],
      AlertDisplayName: 'Email messages containing malicious URL removed after delivery',
      Description: 'Emails with malicious URL that were delivered and later removed',
    }),
  });
  return r;
}

function smallAirInvestigation(ctx: Ctx): AuditRecord {
  const { rng, tenant } = ctx;
  const investigationId = `urn:ZappedEmailInvestigation:${hexOf(rng, 32)}`;
  const actions = Array.from({ length: rng.int(1, 3) }, () =>
    airAction(rng, tenant, investigationId, ctx.time, rng.int(1, 4)),
  );
  return airInvestigationRecord(ctx, actions);
}

export function makeGeneralRecord(ctx: Ctx): AuditRecord {
  const op = weighted(ctx.rng, [
    ['MessageSent', 15],
    ['TeamsSessionStarted', 9],
    ['MemberAdded', 6],
    ['MemberRemoved', 2],
    ['ChannelAdded', 2],
    ['TeamCreated', 2],
    ['ReactedToMessage', 5],
    ['ViewReport', 10],
    ['ViewDashboard', 4],
    ['ExportReport', 1.5],
    ['CreateArtifact', 2],
    ['CopilotInteraction', 20],
    ['MessageCreated', 3],
    ['GroupCreation', 1],
    ['AlertTriggered', 3],
    ['AlertEntityGenerated', 3],
    ['AirInvestigationData', 0.5],
  ] as const);
  switch (op) {
    case 'ViewReport':
    case 'ViewDashboard':
    case 'ExportReport':
    case 'CreateArtifact':
      return powerBiRecord(ctx, op);
    case 'CopilotInteraction':
      return copilotRecord(ctx);
    case 'MessageCreated':
    case 'GroupCreation':
      return yammerRecord(ctx, op);
    case 'AlertTriggered':
    case 'AlertEntityGenerated':
      return alertRecord(ctx, op);
    case 'AirInvestigationData':
      return smallAirInvestigation(ctx);
    default:
      return teamsRecord(ctx, op);
  }
}
