// Cosmos DB for NoSQL: Entra ID only, the container exactly as shared/writer/cosmosContainer.ts expects it.

param name string
param location string = resourceGroup().location
param tags object = {}
param databaseName string
param containerName string
@description('Container default TTL, in days.')
param retentionDays int
param serverless bool = true
param autoscaleMaxThroughput int = 1000
param continuousBackup bool = true
param managedIdentityPrincipalId string
@description('Deploying user, for local runs; empty = none.')
param userPrincipalId string = ''
@description('Entra ID user (or group) whose organizational account connects Fabric mirroring; empty = none.')
param fabricMirrorPrincipalId string = ''
@description('Log Analytics workspace that receives the data-plane logs.')
param logAnalyticsWorkspaceId string

// Cosmos DB Built-in Data Contributor: read and write items, nothing on databases or containers.
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'
var accountId = resourceId('Microsoft.DocumentDB/databaseAccounts', name)

// Fabric mirroring signs in with an organizational account, never a key (local auth is off), and needs
// readMetadata and readAnalytics, which no built-in role grants alone: this custom role, on the account only.
var fabricMirrorRoleId = guid(accountId, 'fabric-mirroring')
var fabricMirrorRole = {
  name: fabricMirrorRoleId
  roleName: 'auditfeed Fabric mirroring'
  dataActions: [
    'Microsoft.DocumentDB/databaseAccounts/readMetadata'
    'Microsoft.DocumentDB/databaseAccounts/readAnalytics'
  ]
  assignableScopes: [
    accountId
  ]
  assignments: empty(fabricMirrorPrincipalId)
    ? []
    : [
        {
          name: guid(accountId, fabricMirrorPrincipalId, fabricMirrorRoleId)
          principalId: fabricMirrorPrincipalId
        }
      ]
}

var functionAssignment = [
  {
    name: guid(accountId, managedIdentityPrincipalId, dataContributorRoleId)
    principalId: managedIdentityPrincipalId
    roleDefinitionId: dataContributorRoleId
  }
]
var userAssignment = empty(userPrincipalId)
  ? []
  : [
      {
        name: guid(accountId, userPrincipalId, dataContributorRoleId)
        principalId: userPrincipalId
        roleDefinitionId: dataContributorRoleId
      }
    ]

module account 'br/public:avm/res/document-db/database-account:0.19.0' = {
  name: 'cosmos-account'
  params: {
    name: name
    location: location
    tags: tags
    disableLocalAuthentication: true // no keys: only Entra ID with data-plane roles
    disableKeyBasedMetadataWriteAccess: true
    minimumTlsVersion: 'Tls12'
    defaultConsistencyLevel: 'Session'
    capabilitiesToAdd: serverless ? ['EnableServerless'] : []
    // Burst capacity does not apply to serverless accounts.
    enableBurstCapacity: !serverless
    // Zones are not offered in every region; a single-region account without them deploys anywhere.
    zoneRedundant: false
    enableAutomaticFailover: false
    // Fabric mirroring needs continuous backup; the 7-day tier is the free one.
    backupPolicyType: continuousBackup ? 'Continuous' : 'Periodic'
    backupPolicyContinuousTier: 'Continuous7Days'
    networkRestrictions: {
      publicNetworkAccess: 'Enabled'
      networkAclBypass: 'AzureServices'
      ipRules: []
      virtualNetworkRules: []
    }
    sqlDatabases: [
      {
        name: databaseName
        containers: [
          {
            name: containerName
            paths: [
              '/pk'
            ]
            kind: 'Hash'
            version: 2
            defaultTtl: retentionDays * 86400
            autoscaleSettingsMaxThroughput: serverless ? null : autoscaleMaxThroughput
            // Same paths as INDEXING_POLICY: only what investigations and the hunting pack filter and sort on.
            indexingPolicy: {
              indexingMode: 'consistent'
              automatic: true
              includedPaths: [
                {
                  path: '/pk/?'
                }
                {
                  path: '/CreationTime/?'
                }
                {
                  path: '/Operation/?'
                }
                {
                  path: '/UserId/?'
                }
                {
                  path: '/user/?'
                }
                {
                  path: '/ClientIP/?'
                }
                {
                  path: '/clientIp/?'
                }
                {
                  path: '/RecordType/?'
                }
                {
                  path: '/recordType/?'
                }
                {
                  path: '/Workload/?'
                }
                {
                  path: '/ResultStatus/?'
                }
                {
                  path: '/ObjectId/?'
                }
                {
                  path: '/contentType/?'
                }
                {
                  path: '/creationDay/?'
                }
                {
                  path: '/tenantId/?'
                }
                {
                  path: '/userAgent/?'
                }
                {
                  path: '/forwardTo/?'
                }
                {
                  path: '/redirectTo/?'
                }
                {
                  path: '/forwardAsAttachmentTo/?'
                }
                {
                  path: '/forwardingSmtpAddress/?'
                }
                {
                  path: '/forwardingAddress/?'
                }
                {
                  path: '/QueryText/?'
                }
              ]
              excludedPaths: [
                {
                  path: '/*'
                }
              ]
            }
          }
        ]
      }
    ]
    sqlRoleAssignments: concat(functionAssignment, userAssignment)
    sqlRoleDefinitions: [
      fabricMirrorRole
    ]
    // Who read or wrote what in the audit store, which queries ran, and key or role changes on the account.
    // Resource-specific tables (CDBDataPlaneRequests...) are smaller and cheaper than AzureDiagnostics; metrics stay
    // in Azure Monitor, not copied into the workspace.
    diagnosticSettings: [
      {
        name: 'audit-to-workspace'
        workspaceResourceId: logAnalyticsWorkspaceId
        logAnalyticsDestinationType: 'Dedicated'
        logCategoriesAndGroups: [
          {
            category: 'DataPlaneRequests'
          }
          {
            category: 'QueryRuntimeStatistics'
          }
          {
            category: 'ControlPlaneRequests'
          }
        ]
        metricCategories: []
      }
    ]
  }
}

output name string = account.outputs.name
output resourceId string = account.outputs.resourceId
output endpoint string = account.outputs.endpoint
output fabricMirrorRoleDefinitionId string = '${accountId}/sqlRoleDefinitions/${fabricMirrorRoleId}'
