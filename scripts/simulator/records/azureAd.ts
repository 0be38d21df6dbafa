import type { AuditRecord } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import type { Ctx, SimApp, SimUser } from './common';
import {
  BROWSER_AGENTS,
  FIRST_PARTY_APPS,
  GRAPH_APP_ID,
  baseRecord,
  formatNestedTime,
  nameValues,
  osAndBrowser,
  userIp,
  weighted,
  guid,
  hexOf,
} from './common';

export const LOGON_ERRORS: ReadonlyArray<readonly [code: string, name: string, weight: number]> = [
  ['50126', 'InvalidUserNameOrPassword', 60],
  ['50074', 'UserStrongAuthClientAuthNRequired', 12],
  ['50140', 'KmsiInterrupt', 8],
  ['50053', 'IdsLocked', 5],
  ['50055', 'InvalidPasswordExpiredPassword', 4],
  ['50057', 'UserDisabled', 3],
  ['53003', 'BlockedByConditionalAccess', 5],
  ['50076', 'UserStrongAuthRequired', 3],
];

const LOGON_ERROR_TABLE = LOGON_ERRORS.map(([code, name, w]) => [[code, name] as const, w] as const);

export interface StsLogonOptions {
  user: SimUser;
  ip: string;
  failed: boolean;
  userAgent?: string;
  /** `[ErrorNumber, LogonError]`; picked from LOGON_ERRORS when absent. */
  error?: readonly [string, string];
  requestType?: string;
  /** Client application signing in. */
  appId?: string;
}

/** RecordType 15, `UserLoggedIn` / `UserLoginFailed`. */
export function stsLogonRecord(ctx: Ctx, o: StsLogonOptions): AuditRecord {
  const { rng, tenant } = ctx;
  const id = guid(rng);
  const userAgent = o.userAgent ?? rng.pick(BROWSER_AGENTS);
  const client = o.appId ?? rng.pick(FIRST_PARTY_APPS).appId;
  const resource = rng.pick([
    GRAPH_APP_ID,
    '00000002-0000-0ff1-ce00-000000000000',
    '00000003-0000-0ff1-ce00-000000000000',
  ]);
  const requestType =
    o.requestType ??
    weighted(rng, [
      ['OAuth2:Authorize', 5],
      ['OAuth2:Token', 3],
      ['Login:login', 2],
      ['SAS:ProcessAuth', 1],
      ['Kmsi:kmsi', 1],
    ] as const);
  const error = o.failed ? (o.error ?? weighted(rng, LOGON_ERROR_TABLE)) : undefined;
  // MFA and "stay signed in" interrupts are redirects, not user errors.
  const redirect = error?.[0] === '50074' || error?.[0] === '50140';
  const detail = error ? (redirect ? 'Redirect' : 'UserError') : 'Success';

  const r = baseRecord(ctx, {
    id,
    recordType: 15,
    operation: o.failed ? 'UserLoginFailed' : 'UserLoggedIn',
    resultStatus: o.failed ? 'Failed' : 'Succeeded',
    userKey: o.user.objectId,
    userType: 0,
    workload: 'AzureActiveDirectory',
    clientIp: o.ip,
    objectId: o.failed && rng.chance(0.6) ? 'Unknown' : resource,
    userId: o.user.upn,
  });
  const ext: Array<[string, string]> = [
    ['ResultStatusDetail', detail],
    ['UserAgent', userAgent],
    ['UserAuthenticationMethod', rng.pick(['1', '1', '1', '3', '16'])],
    ['RequestType', requestType],
  ];
  if (requestType === 'Kmsi:kmsi') ext.push(['KeepMeSignedIn', 'True']);
  r.AzureActiveDirectoryEventType = 1;
  r.ExtendedProperties = nameValues(ext);
  r.ModifiedProperties = [];
  r.Actor = [
    { ID: o.user.objectId, Type: 0 },
    { ID: o.user.upn, Type: 5 },
  ];
  r.ActorContextId = tenant.tenantId;
  r.ActorIpAddress = o.ip;
  r.InterSystemsId = guid(rng);
  r.IntraSystemId = id;
  r.SupportTicketId = '';
  r.Target = [{ ID: r.ObjectId, Type: 0 }];
  r.TargetContextId = tenant.tenantId;
  r.ApplicationId = client;
  const [os, browser] = osAndBrowser(userAgent);
  const device: Array<[string, string]> = [];
  if (!o.failed && rng.chance(0.35)) {
    device.push(
      ['Id', guid(rng)],
      ['DisplayName', `LAPTOP-${hexOf(rng, 7).toUpperCase()}`],
      ['TrustType', '1'],
    );
  }
  device.push(
    ['OS', os],
    ['BrowserType', browser],
    ['IsCompliantAndManaged', device.length > 0 ? 'True' : 'False'],
  );
  if (rng.chance(0.5)) device.push(['SessionId', guid(rng)]);
  r.DeviceProperties = nameValues(device);
  r.ErrorNumber = error ? error[0] : '0';
  if (error) r.LogonError = error[1];
  return r;
}

// ---------------------------------------------------------------------------------------------
// Directory changes (RecordType 8)

type AdminOp =
  'Add user.' | 'Update user.' | 'Add member to role.' | 'Update application.' | 'Reset user password.';

const ROLES: ReadonlyArray<readonly [string, string]> = [
  ['Global Administrator', '62e90394-69f5-4237-9190-012177145e10'],
  ['Exchange Administrator', '29232cdf-9323-42fd-ade2-1d097af3e4de'],
  ['SharePoint Administrator', 'f28a1f50-f6e7-4571-818b-6a12f2af6b6c'],
  ['User Administrator', 'fe930be7-5e62-47db-91af-98c3a49a38b1'],
  ['Security Reader', '5d6b6bb7-de71-4623-b4af-96380a352509'],
];

/** JSON the way AAD writes it into ModifiedProperties: indented, CRLF. */
function aadJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, '\r\n');
}

function actorList(admin: SimUser): unknown[] {
  return [
    { ID: admin.upn, Type: 5 },
    { ID: admin.puid, Type: 3 },
    { ID: `User_${admin.objectId}`, Type: 2 },
    { ID: admin.objectId, Type: 2 },
    { ID: 'User', Type: 2 },
  ];
}

function adminBase(
  ctx: Ctx,
  admin: SimUser,
  operation: AdminOp,
  objectId: string,
  category: string,
): AuditRecord {
  const { rng, tenant } = ctx;
  const ip = userIp(ctx, admin);
  const r = baseRecord(ctx, {
    recordType: 8,
    operation,
    resultStatus: 'Success',
    userKey: `${admin.puid}@${tenant.domain}`,
    userType: 0,
    workload: 'AzureActiveDirectory',
    clientIp: rng.chance(0.85) ? ip : '',
    objectId,
    userId: admin.upn,
  });
  r.AzureActiveDirectoryEventType = 1;
  r.ExtendedProperties = nameValues([
    ['additionalDetails', JSON.stringify({ 'User-Agent': rng.pick(BROWSER_AGENTS) })],
    ['extendedAuditEventCategory', category],
  ]);
  r.ModifiedProperties = [];
  r.Actor = actorList(admin);
  r.ActorContextId = tenant.tenantId;
  r.ActorIpAddress = r.ClientIP;
  r.InterSystemsId = guid(rng);
  r.IntraSystemId = guid(rng);
  r.SupportTicketId = '';
  r.Target = [];
  r.TargetContextId = tenant.tenantId;
  return r;
}

function userTarget(id: string, upn: string, puid: string): unknown[] {
  return [
    { ID: `User_${id}`, Type: 2 },
    { ID: id, Type: 2 },
    { ID: 'User', Type: 2 },
    { ID: upn, Type: 5 },
    { ID: puid, Type: 3 },
  ];
}

export interface ResourceAccess {
  ResourceAppId: string;
  RequiredAppPermissions: Array<{
    EntitlementId: string;
    DirectAccessGrant: boolean;
    ImpersonationAccessGrants: string[];
  }>;
  EncodingVersion: number;
}

export function resourceAccessEntry(rng: Rng, permissions: number): ResourceAccess {
  return {
    ResourceAppId: rng.chance(0.6) ? GRAPH_APP_ID : rng.pick(FIRST_PARTY_APPS).appId,
    RequiredAppPermissions: Array.from({ length: permissions }, () => ({
      EntitlementId: guid(rng),
      DirectAccessGrant: rng.chance(0.5),
      ImpersonationAccessGrants: rng.chance(0.3) ? [guid(rng)] : [],
    })),
    EncodingVersion: 1,
  };
}

/** `Update application.` whose RequiredResourceAccess grew from `before` to `after` (the usual consent change). */
export function updateApplicationRecord(
  ctx: Ctx,
  admin: SimUser,
  app: SimApp,
  before: ResourceAccess[],
  after: ResourceAccess[],
): AuditRecord {
  const { rng, tenant } = ctx;
  const r = adminBase(ctx, admin, 'Update application.', `Application_${app.appId}`, 'Application');
  // Verbose directory-service envelope, as the real record carries.
  r.ExtendedProperties = nameValues([
    ['actorContextId', tenant.tenantId],
    ['actorObjectId', admin.objectId],
    ['actorObjectClass', 'User'],
    ['actorUPN', admin.upn],
    ['actorPUID', admin.puid],
    ['teamName', 'MSODS.'],
    ['targetContextId', tenant.tenantId],
    ['targetObjectId', app.appId],
    ['extendedAuditEventCategory', 'Application'],
    ['targetName', app.displayName],
    ['targetIncludedUpdatedProperties', '["RequiredResourceAccess"]'],
    ['correlationId', guid(rng)],
    ['version', '2'],
    ['additionalDetails', JSON.stringify({ 'User-Agent': rng.pick(BROWSER_AGENTS) })],
    ['resultType', 'Success'],
    ['auditEventCategory', 'ApplicationManagement'],
    ['env_ver', '2.1'],
    ['env_name', '#Ifx.AuditSchema#IfxMsods.AuditCommonEvent'],
    ['env_time', formatNestedTime(ctx.time, rng)],
    ['env_appId', 'restdirectoryservice'],
    ['env_cloud_name', `MSO-${rng.pick(['AM5R', 'BL2R', 'DM2R', 'SN1R'])}`],
    ['env_cloud_roleInstance', `${rng.pick(['AM5', 'BL2', 'DM2'])}RDSR${rng.int(100, 999)}`],
    ['env_cloud_environment', 'PROD'],
  ]);
  r.ModifiedProperties = [
    { Name: 'RequiredResourceAccess', NewValue: aadJson(after), OldValue: aadJson(before) },
    { Name: 'Included Updated Properties', NewValue: 'RequiredResourceAccess', OldValue: '' },
    { Name: 'TargetId.ServicePrincipalNames', NewValue: app.appId, OldValue: '' },
  ];
  r.Target = [
    { ID: `Application_${app.appId}`, Type: 2 },
    { ID: app.appId, Type: 2 },
    { ID: 'Application', Type: 2 },
    { ID: app.displayName, Type: 1 },
  ];
  return r;
}

function adminRecord(ctx: Ctx, operation: AdminOp): AuditRecord {
  const { rng, tenant } = ctx;
  const admin = rng.pick(tenant.admins);
  const target = rng.pick(tenant.users);
  switch (operation) {
    case 'Update application.': {
      const before = Array.from({ length: rng.int(1, 3) }, () => resourceAccessEntry(rng, rng.int(1, 4)));
      const after = [
        ...before,
        ...Array.from({ length: rng.int(1, 3) }, () => resourceAccessEntry(rng, rng.int(1, 6))),
      ];
      return updateApplicationRecord(ctx, admin, rng.pick(tenant.ownApps), before, after);
    }
    case 'Add user.': {
      const id = guid(rng);
      const upn = `new.hire${rng.int(100, 9999)}@${tenant.domain}`;
      const r = adminBase(ctx, admin, operation, upn, 'User');
      r.ModifiedProperties = [
        { Name: 'AccountEnabled', NewValue: aadJson([true]), OldValue: '[]' },
        { Name: 'DisplayName', NewValue: aadJson([`New Hire ${rng.int(1, 99)}`]), OldValue: '[]' },
        { Name: 'UserPrincipalName', NewValue: aadJson([upn]), OldValue: '[]' },
        { Name: 'UserType', NewValue: aadJson(['Member']), OldValue: '[]' },
        {
          Name: 'Included Updated Properties',
          NewValue: 'AccountEnabled, DisplayName, UserPrincipalName, UserType',
          OldValue: '',
        },
      ];
      r.Target = userTarget(id, upn, `1003${hexOf(rng, 12).toUpperCase()}`);
      return r;
    }
    case 'Update user.': {
      const r = adminBase(ctx, admin, operation, target.upn, 'User');
      const change = rng.pick([
        'StrongAuthenticationMethod',
        'AssignedLicense',
        'AccountEnabled',
        'Department',
      ]);
      const values: Record<string, [unknown, unknown]> = {
        StrongAuthenticationMethod: [[{ MethodType: 6, Default: true }], []],
        AssignedLicense: [[{ SkuName: 'ENTERPRISEPREMIUM', DisabledPlans: [] }], []],
        AccountEnabled: [[false], [true]],
        Department: [[rng.pick(['Finance', 'Sales', 'Vertrieb', 'Ventas'])], ['Marketing']],
      };
      const [nv, ov] = values[change] ?? [[], []];
      r.ModifiedProperties = [
        { Name: change, NewValue: aadJson(nv), OldValue: aadJson(ov) },
        { Name: 'Included Updated Properties', NewValue: change, OldValue: '' },
        { Name: 'TargetId.UserType', NewValue: 'Member', OldValue: '' },
      ];
      r.Target = userTarget(target.objectId, target.upn, target.puid);
      return r;
    }
    case 'Add member to role.': {
      const [roleName, templateId] = rng.pick(ROLES);
      const r = adminBase(ctx, admin, operation, target.upn, 'Role');
      r.ModifiedProperties = [
        { Name: 'Role.ObjectID', NewValue: guid(rng), OldValue: '' },
        { Name: 'Role.DisplayName', NewValue: roleName, OldValue: '' },
        { Name: 'Role.TemplateId', NewValue: templateId, OldValue: '' },
        { Name: 'Role.WellKnownObjectName', NewValue: roleName.replace(/\s+/g, ''), OldValue: '' },
      ];
      r.Target = userTarget(target.objectId, target.upn, target.puid);
      return r;
    }
    case 'Reset user password.': {
      const r = adminBase(ctx, admin, operation, target.upn, 'User');
      r.Target = userTarget(target.objectId, target.upn, target.puid);
      return r;
    }
  }
}

export function makeAzureAdRecord(ctx: Ctx): AuditRecord {
  const { rng, tenant } = ctx;
  const kind = weighted(rng, [
    ['login', 78],
    ['failed', 14],
    ['Update user.', 3],
    ['Add user.', 1.5],
    ['Add member to role.', 1],
    ['Update application.', 1.5],
    ['Reset user password.', 1],
  ] as const);
  if (kind === 'login' || kind === 'failed') {
    const user = rng.pick(tenant.users);
    return stsLogonRecord(ctx, { user, ip: userIp(ctx, user), failed: kind === 'failed' });
  }
  return adminRecord(ctx, kind);
}
