import type { AuditRecord } from '../../../shared/contentTypes';
import type { Ctx, SimUser } from './common';
import { GRAPH_APP_ID, baseRecord, derivedGuid, formatNestedTime, guid, nameValues } from './common';

/** A multi-tenant app an attacker registered elsewhere and a user of this tenant consented to. */
export interface ConsentApp {
  appId: string;
  displayName: string;
  /** Object id of the service principal the consent creates in this tenant. */
  servicePrincipalId: string;
  /** Delegated Microsoft Graph scopes the user granted. */
  scopes: string[];
}

/** Names consent-phishing apps hide behind: document viewers, mail tools, security checks. */
export const CONSENT_APP_NAMES = [
  'DocuView Secure Reader',
  'Mail Backup Assistant',
  'PDF Converter Online',
  'O365 Security Update',
  'Shared File Viewer',
] as const;

export const CONSENT_SCOPES = [
  'Mail.Read',
  'Mail.ReadWrite',
  'Files.Read.All',
  'offline_access',
  'User.Read',
];

/** Object id of Microsoft Graph's service principal in a tenant (derived, stable). */
export function graphServicePrincipalId(tenantId: string): string {
  return derivedGuid('graph-sp', tenantId);
}

/** JSON the way AAD writes it into ModifiedProperties: indented, CRLF. */
function aadJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, '\r\n');
}

function servicePrincipalTarget(app: ConsentApp): unknown[] {
  return [
    { ID: `ServicePrincipal_${app.servicePrincipalId}`, Type: 2 },
    { ID: app.servicePrincipalId, Type: 2 },
    { ID: 'ServicePrincipal', Type: 2 },
    { ID: app.displayName, Type: 1 },
    { ID: app.appId, Type: 2 },
    { ID: app.appId, Type: 4 },
  ];
}

/** RecordType 8 directory change made by a user (the consenting user, from their own browser). */
function directoryRecord(
  ctx: Ctx,
  o: {
    user: SimUser;
    ip: string;
    userAgent: string;
    operation: string;
    objectId: string;
    category: string;
    appId: string;
  },
): AuditRecord {
  const { rng, tenant } = ctx;
  const r = baseRecord(ctx, {
    recordType: 8,
    operation: o.operation,
    resultStatus: 'Success',
    userKey: `${o.user.puid}@${tenant.domain}`,
    userType: 0,
    workload: 'AzureActiveDirectory',
    clientIp: o.ip,
    objectId: o.objectId,
    userId: o.user.upn,
  });
  r.AzureActiveDirectoryEventType = 1;
  r.ExtendedProperties = nameValues([
    ['additionalDetails', JSON.stringify({ 'User-Agent': o.userAgent, AppId: o.appId })],
    ['extendedAuditEventCategory', o.category],
  ]);
  r.ModifiedProperties = [];
  r.Actor = [
    { ID: o.user.upn, Type: 5 },
    { ID: o.user.puid, Type: 3 },
    { ID: `User_${o.user.objectId}`, Type: 2 },
    { ID: o.user.objectId, Type: 2 },
    { ID: 'User', Type: 2 },
  ];
  r.ActorContextId = tenant.tenantId;
  r.ActorIpAddress = o.ip;
  r.InterSystemsId = guid(rng);
  r.IntraSystemId = guid(rng);
  r.SupportTicketId = '';
  r.Target = [];
  r.TargetContextId = tenant.tenantId;
  return r;
}

export interface ConsentOptions {
  user: SimUser;
  ip: string;
  userAgent: string;
  app: ConsentApp;
}

/** `Add service principal.`: the first consent to a multi-tenant app creates its service principal here. */
export function addServicePrincipalRecord(ctx: Ctx, o: ConsentOptions): AuditRecord {
  const { app } = o;
  const r = directoryRecord(ctx, {
    ...o,
    operation: 'Add service principal.',
    objectId: app.appId,
    category: 'ServicePrincipal',
    appId: app.appId,
  });
  r.ModifiedProperties = [
    { Name: 'AccountEnabled', NewValue: aadJson([true]), OldValue: '[]' },
    { Name: 'AppPrincipalId', NewValue: aadJson([app.appId]), OldValue: '[]' },
    { Name: 'DisplayName', NewValue: aadJson([app.displayName]), OldValue: '[]' },
    { Name: 'ServicePrincipalName', NewValue: aadJson([app.appId]), OldValue: '[]' },
    {
      Name: 'Included Updated Properties',
      NewValue: 'AccountEnabled, AppPrincipalId, DisplayName, ServicePrincipalName',
      OldValue: '',
    },
    { Name: 'TargetId.ServicePrincipalNames', NewValue: app.appId, OldValue: '' },
  ];
  r.Target = servicePrincipalTarget(app);
  return r;
}

/** `Consent to application.` by a user for themselves (not admin consent), delegated scopes. */
export function consentToApplicationRecord(ctx: Ctx, o: ConsentOptions): AuditRecord {
  const { rng, tenant } = ctx;
  const { app, user } = o;
  const r = directoryRecord(ctx, {
    ...o,
    operation: 'Consent to application.',
    objectId: app.servicePrincipalId,
    category: 'ServicePrincipal',
    appId: app.appId,
  });
  const grant =
    `[Id: ${guid(rng).replace(/-/g, '').slice(0, 22)}, ClientId: ${app.servicePrincipalId}, ` +
    `PrincipalId: ${user.objectId}, ResourceId: ${graphServicePrincipalId(tenant.tenantId)}, ` +
    `ConsentType: Principal, Scope:  ${app.scopes.join(' ')}, CreatedDateTime: , LastModifiedDateTime: ]`;
  r.ModifiedProperties = [
    { Name: 'ConsentContext.IsAdminConsent', NewValue: 'False', OldValue: '' },
    { Name: 'ConsentContext.IsAppOnly', NewValue: 'False', OldValue: '' },
    { Name: 'ConsentContext.OnBehalfOfAll', NewValue: 'False', OldValue: '' },
    { Name: 'ConsentContext.Tags', NewValue: 'WindowsAzureActiveDirectoryIntegratedApp', OldValue: '' },
    { Name: 'ConsentAction.Permissions', NewValue: `[${grant}] => [${grant}]; `, OldValue: '' },
    { Name: 'ConsentAction.Reason', NewValue: '', OldValue: '' },
    { Name: 'TargetId.ServicePrincipalNames', NewValue: app.appId, OldValue: '' },
  ];
  r.Target = servicePrincipalTarget(app);
  return r;
}

/** `Add delegated permission grant.`: the OAuth2 grant behind a user consent, targeting Microsoft Graph. */
export function delegatedGrantRecord(ctx: Ctx, o: ConsentOptions): AuditRecord {
  const { tenant } = ctx;
  const { app } = o;
  const graphSp = graphServicePrincipalId(tenant.tenantId);
  const r = directoryRecord(ctx, {
    ...o,
    operation: 'Add delegated permission grant.',
    objectId: graphSp,
    category: 'OAuth2PermissionGrant',
    appId: app.appId,
  });
  r.ModifiedProperties = [
    { Name: 'DelegatedPermissionGrant.Scope', NewValue: ` ${app.scopes.join(' ')}`, OldValue: '' },
    { Name: 'DelegatedPermissionGrant.ConsentType', NewValue: 'Principal', OldValue: '' },
    { Name: 'ServicePrincipal.ObjectID', NewValue: app.servicePrincipalId, OldValue: '' },
    { Name: 'TargetId.ServicePrincipalNames', NewValue: GRAPH_APP_ID, OldValue: '' },
  ];
  r.Target = [
    { ID: `ServicePrincipal_${graphSp}`, Type: 2 },
    { ID: graphSp, Type: 2 },
    { ID: 'ServicePrincipal', Type: 2 },
    { ID: 'Microsoft Graph', Type: 1 },
    { ID: GRAPH_APP_ID, Type: 2 },
    { ID: GRAPH_APP_ID, Type: 4 },
  ];
  return r;
}

/** `Add app role assignment grant to user.`: the consenting user assigned to the app (default role). */
export function appRoleAssignmentRecord(ctx: Ctx, o: ConsentOptions): AuditRecord {
  const { rng } = ctx;
  const { app, user } = o;
  const r = directoryRecord(ctx, {
    ...o,
    operation: 'Add app role assignment grant to user.',
    objectId: user.upn,
    category: 'User',
    appId: app.appId,
  });
  r.ModifiedProperties = [
    { Name: 'AppRole.Id', NewValue: '00000000-0000-0000-0000-000000000000', OldValue: '' },
    { Name: 'AppRole.Value', NewValue: '', OldValue: '' },
    { Name: 'AppRoleAssignment.CreatedDateTime', NewValue: formatNestedTime(ctx.time, rng), OldValue: '' },
    {
      Name: 'AppRoleAssignment.LastModifiedDateTime',
      NewValue: formatNestedTime(ctx.time, rng),
      OldValue: '',
    },
    { Name: 'ServicePrincipal.ObjectID', NewValue: app.servicePrincipalId, OldValue: '' },
    { Name: 'ServicePrincipal.DisplayName', NewValue: app.displayName, OldValue: '' },
    { Name: 'ServicePrincipal.AppId', NewValue: app.appId, OldValue: '' },
    { Name: 'ServicePrincipal.Name', NewValue: app.appId, OldValue: '' },
    { Name: 'User.ObjectID', NewValue: user.objectId, OldValue: '' },
    { Name: 'User.UPN', NewValue: user.upn, OldValue: '' },
    { Name: 'User.PUID', NewValue: user.puid, OldValue: '' },
  ];
  r.Target = [
    { ID: `User_${user.objectId}`, Type: 2 },
    { ID: user.objectId, Type: 2 },
    { ID: 'User', Type: 2 },
    { ID: user.upn, Type: 5 },
    { ID: user.puid, Type: 3 },
  ];
  return r;
}
