targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to name the resource group and to derive a unique resource token.')
param environmentName string

@minLength(1)
@description('Region for all resources. Pick one where Flex Consumption is available.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the user (or service principal) running azd. With deployerDataAccess it gets the function\'s data roles; as a User in auth modes certificate and secret it may upload the credential to Key Vault. Leave empty to grant nothing.')
param principalId string = ''

@description('Kind of principalId.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

// Off for pipelines: a CI principal deploys, it never needs to read every tenant's audit trail.
@description('Give principalId the function\'s data roles on storage and Cosmos DB, so local runs and npm run status work against the deployed resources. Set false for a pipeline (the CI workflow does).')
param deployerDataAccess bool = true

@description('Optional resource group name; default rg-<environmentName>.')
param resourceGroupName string = ''

// ---------------------------------------------------------------------------------------------------------------
// auditfeed settings (app settings of the same names; defaults equal the code's, test/infra checks that)
// ---------------------------------------------------------------------------------------------------------------

@minLength(36)
@description('AUDITFEED_TENANT_IDS: tenant ids (GUIDs) to collect, separated by commas.')
param tenantIds string

@minLength(36)
@maxLength(36)
@description('AUDITFEED_CLIENT_ID: application (client) id of the multi-tenant app registration (docs/deploy.md).')
param clientId string

@description('AUDITFEED_AUTH_MODE: federated = the function\'s managed identity is a federated credential of the app (no secret anywhere); certificate / secret = a Key Vault reference.')
@allowed([
  'federated'
  'certificate'
  'secret'
])
param authMode string = 'federated'

@description('AUDITFEED_CLOUD: Microsoft 365 cloud of the collected tenants. Deploy to the matching Azure cloud (docs/deploy.md).')
@allowed([
  'Enterprise'
  'GCC'
  'GCCHigh'
  'DoD'
  '21Vianet'
])
param cloud string = 'Enterprise'

@description('AUDITFEED_CONTENT_TYPES: content types to collect, separated by commas.')
param contentTypes string = 'Audit.AzureActiveDirectory,Audit.Exchange,Audit.SharePoint,Audit.General,DLP.All'

@description('AUDITFEED_PUBLISHER_ID: PublisherIdentifier (your own tenant id); empty = each tenant its own id.')
param publisherId string = ''

@description('AUDITFEED_COLLECT_SCHEDULE: NCRONTAB schedule of the collector (six fields, UTC).')
param collectSchedule string = '0 */5 * * * *'

@minValue(30)
@maxValue(3600)
@description('AUDITFEED_RUN_DEADLINE_SECONDS: keep below functionTimeout in host.json.')
param runDeadlineSeconds int = 480

@minValue(1)
@maxValue(168)
@description('AUDITFEED_INITIAL_LOOKBACK_HOURS: how far back the first run of a content type starts.')
param initialLookbackHours int = 168

@minValue(1)
// Cosmos DB's defaultTtl is at most 2,147,483,647 seconds: 24,855 days.
@maxValue(24855)
@description('AUDITFEED_RETENTION_DAYS: days a record is kept; also the Cosmos DB container default TTL.')
param retentionDays int = 180

@description('AUDITFEED_CONTENT_TYPE_RETENTION_DAYS: per-content-type retention, e.g. Audit.Exchange=365.')
param contentTypeRetentionDays string = ''

@minValue(1)
@maxValue(600)
@description('AUDITFEED_HTTP_TIMEOUT_SECONDS: timeout of one Management API request.')
param httpTimeoutSeconds int = 60

@minValue(1)
@maxValue(60000)
@description('AUDITFEED_MAX_REQUESTS_PER_MINUTE: request pace per tenant.')
param maxRequestsPerMinute int = 1800

@minValue(0)
@maxValue(20)
@description('AUDITFEED_MAX_RETRIES: retries of one Management API request.')
param maxRetries int = 6

@minLength(3)
@maxLength(56)
@description('AUDITFEED_QUEUE_NAME: queue the collector fills and the writer drains; the poison queue is <name>-poison.')
param queueName string = 'auditfeed-batches'

@minValue(0)
@maxValue(1440)
@description('AUDITFEED_OVERLAP_MINUTES: how much before its cursor each run lists again.')
param overlapMinutes int = 360

@minValue(0)
@maxValue(10080)
@description('AUDITFEED_SWEEP_INTERVAL_MINUTES: every this many minutes a run re-lists the whole 7-day retention (full sweep).')
param sweepIntervalMinutes int = 60

@minValue(1)
@maxValue(64)
@description('AUDITFEED_TENANT_CONCURRENCY: tenants collected at the same time.')
param tenantConcurrency int = 2

@minValue(1)
@maxValue(5)
@description('AUDITFEED_CONTENT_TYPE_CONCURRENCY: content types of one tenant collected at the same time.')
param contentTypeConcurrency int = 5

@minValue(1)
@maxValue(64)
@description('AUDITFEED_FETCH_CONCURRENCY: content blobs of one content type fetched at the same time.')
param fetchConcurrency int = 4

@allowed([
  'auto'
  'inline'
  'fanout'
])
@description('AUDITFEED_COLLECT_MODE: inline (the timer collects every tenant), fanout (the timer dispatches one task per tenant x content type to collectorWorker instances), auto (fanout from 2 tenants on).')
param collectMode string = 'auto'

@minLength(3)
@maxLength(56)
@description('AUDITFEED_WORK_QUEUE_NAME: the work queue of fanout mode; the poison queue is <name>-poison.')
param workQueueName string = 'auditfeed-collect'

@minValue(1)
@maxValue(10000)
@description('AUDITFEED_COLLECT_SLOTS: collection tasks the deployment runs at once in fanout mode (collectorWorker instances x 12); the timer shares each interval among due tasks by it. Lower is safe (shorter tasks), higher than the real figure lets tasks wait past the interval.')
param collectSlots int = 24

@minLength(3)
@maxLength(56)
@description('AUDITFEED_BACKFILL_QUEUE_NAME: backfill requests (auditfeed backfill --submit) for the backfill function; the poison queue is <name>-poison.')
param backfillQueueName string = 'auditfeed-backfill'

@minValue(1)
@maxValue(3650)
@description('AUDITFEED_AUDIT_RETENTION_DAYS: days the tenants\' audit log keeps records (Audit Standard 180, Premium 365 for the core workloads); a backfill may not start earlier.')
param auditRetentionDays int = 180

@minValue(1)
@maxValue(50)
@description('AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT: audit log queries one backfill keeps queued or running at once (the service allows at least 50 per tenant, shared with other tools and backfills).')
param backfillQueriesInFlight int = 4

@minValue(1)
@maxValue(10000)
@description('AUDITFEED_BACKFILL_QUERIES_PER_DAY: audit log queries a backfill creates in any 24 hours (the tenant has at least 200 a day, shared with the Purview portal).')
param backfillQueriesPerDay int = 150

@description('AUDITFEED_COSMOS_DATABASE: Cosmos DB database name.')
param cosmosDatabaseName string = 'auditfeed'

@description('AUDITFEED_COSMOS_CONTAINER: Cosmos DB container name.')
param cosmosContainerName string = 'records'

// ---------------------------------------------------------------------------------------------------------------
// Sizing, mirroring, alerts
// ---------------------------------------------------------------------------------------------------------------

@description('serverless (pay per request, default) or provisioned (autoscale throughput on the container).')
@allowed([
  'serverless'
  'provisioned'
])
param cosmosCapacityMode string = 'serverless'

@minValue(1000)
@description('Autoscale maximum RU/s of the container when cosmosCapacityMode is provisioned.')
param cosmosAutoscaleMaxThroughput int = 1000

@description('Continuous backup (7 days) on the Cosmos DB account: required to mirror it into Microsoft Fabric for Power BI. Once on it cannot be turned off: false on a redeploy of an account that has it fails.')
param cosmosContinuousBackup bool = true

@description('Object id of the Entra ID user (or group) whose organizational account connects Fabric mirroring: gets a custom data-plane role with only readMetadata and readAnalytics. Empty = nobody.')
param fabricMirrorPrincipalId string = ''

@allowed([
  512
  2048
  4096
])
@description('Memory of one Flex Consumption instance.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Most instances each function scales out to (Flex Consumption counts per function: the writer and collectorWorker each get up to this many); bounds the write rate Cosmos DB sees and the tasks collected at once.')
param maximumInstanceCount int = 40

@description('Name of the Key Vault secret (or certificate) holding the Management API credential, for auth modes certificate and secret.')
param keyVaultSecretName string = 'management-api-credential'

@description('E-mail address that receives alerts; empty = alerts fire without notification.')
param alertEmail string = ''

@description('Where each alert\'s description links its runbook (docs/runbooks.md); point it at your fork or wiki.')
param runbookBaseUrl string = 'https://github.com/auditfeed/auditfeed/blob/main/docs/runbooks.md'

@minValue(10)
@description('Alert when the collector lags the feed by more than this many minutes.')
param collectorLagAlertMinutes int = 60

@minValue(1)
@description('Alert (informational) when a re-listing finds content listed more than this many hours after it was created.')
param lateContentAlertHours int = 24

@minValue(5)
@description('Alert when the oldest batch has waited in the queue longer than this many minutes.')
param queueBacklogAlertMinutes int = 30

@minValue(1)
@description('Auth mode certificate: alert when the client certificate expires in fewer days than this.')
param certificateExpiryAlertDays int = 30

@minValue(30)
@maxValue(730)
@description('Days Log Analytics keeps logs.')
param logRetentionDays int = 30

@minValue(0)
@description('Monthly cost budget of the resource group, in the billing currency; 0 = none. E-mails alertEmail (required with a budget; the preprovision hook checks) at 80% of actual and 100% of forecast spend.')
param budgetAmount int = 0

@description('First day of the budget\'s first month, yyyy-MM-01; empty = this month. A budget refuses a changed start date, so the preprovision hook pins it in the azd environment (AUDITFEED_BUDGET_START_DATE).')
param budgetStartDate string = ''

// utcNow() is allowed only as a parameter default; not in main.parameters.json, so azd never sets it.
@description('Leave unset: the first day of the current month (UTC), the budget start while budgetStartDate is empty.')
param thisMonthStart string = utcNow('yyyy-MM-01')

// ---------------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var serviceName = 'auditfeed'
var functionAppName = '${abbrs.webSitesFunctions}${serviceName}-${resourceToken}'
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var cosmosAccountName = '${abbrs.documentDBDatabaseAccounts}${resourceToken}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

// Containers the code uses (shared/storage/clients.ts, shared/writer/*); test/infra keeps the list in step.
var auditfeedContainers = [
  'watermarks'
  'batches'
  'oversize'
  'rejected'
  'poison-archive'
]

// Reads, writes and deletes on the blob and queue services (the audit trail's batches, cursors and rejected
// records) go to the workspace; resource-specific tables StorageBlobLogs and StorageQueueLogs. Metrics stay in
// Azure Monitor, not copied into the workspace.
var storageDataPlaneLogs = [
  {
    name: 'audit-to-workspace'
    workspaceResourceId: logAnalytics.outputs.resourceId
    logCategoriesAndGroups: [
      {
        category: 'StorageRead'
      }
      {
        category: 'StorageWrite'
      }
      {
        category: 'StorageDelete'
      }
    ]
    metricCategories: []
  }
]

// Built from the cloud's suffix so sovereign clouds work; identity-based connections take service URIs.
var storageBlobEndpoint = 'https://${storageAccountName}.blob.${environment().suffixes.storage}/'
var storageQueueEndpoint = 'https://${storageAccountName}.queue.${environment().suffixes.storage}/'
var storageTableEndpoint = 'https://${storageAccountName}.table.${environment().suffixes.storage}/'

var useKeyVault = authMode != 'federated'
// A Key Vault reference, never a value: the operator uploads the credential after provisioning (docs/deploy.md).
var managementApiCredentialReference = '@Microsoft.KeyVault(SecretUri=https://${keyVaultName}${environment().suffixes.keyvaultDns}/secrets/${keyVaultSecretName}/)'

// The federated credential must carry the audience the code asks for (shared/clouds.ts).
var tokenExchangeAudiences = {
  Enterprise: 'api://AzureADTokenExchange'
  GCC: 'api://AzureADTokenExchange'
  GCCHigh: 'api://AzureADTokenExchangeUSGov'
  DoD: 'api://AzureADTokenExchangeUSGov'
  '21Vianet': 'api://AzureADTokenExchangeChina'
}
// The issuer is the cloud's Entra login host (shared/clouds.ts). Not environment().authentication.loginEndpoint:
// in Azure China that is login.chinacloudapi.cn, while a managed identity's tokens there are issued by
// login.partner.microsoftonline.cn (Microsoft's page on trusting a managed identity from an app, 21Vianet).
var federatedCredentialIssuerHosts = {
  Enterprise: 'login.microsoftonline.com'
  GCC: 'login.microsoftonline.com'
  GCCHigh: 'login.microsoftonline.us'
  DoD: 'login.microsoftonline.us'
  '21Vianet': 'login.partner.microsoftonline.cn'
}
var federatedCredentialIssuer = 'https://${federatedCredentialIssuerHosts[cloud]}/${tenant().tenantId}/v2.0'

// ---------------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The function's only identity: storage, Cosmos DB, App Insights, Key Vault, and the Management API (as federated credential).
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${serviceName}-${resourceToken}'
    location: location
    tags: tags
  }
}

module appServicePlan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'appserviceplan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    skuName: 'Standard_LRS'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // identity-based connections only
    // The module's default is true: no object replication into another tenant's account.
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        for container in concat([deploymentStorageContainerName], auditfeedContainers): {
          name: container
          publicAccess: 'None'
        }
      ]
      diagnosticSettings: storageDataPlaneLogs
    }
    queueServices: {
      queues: [
        {
          name: queueName
        }
        {
          // Where the Functions host moves a message after maxDequeueCount failures (host.json).
          name: '${queueName}-poison'
        }
        {
          // Fanout mode: the timer's tasks for collectorWorker.
          name: workQueueName
        }
        {
          name: '${workQueueName}-poison'
        }
        {
          // Backfill requests (auditfeed backfill --submit) and their continuations.
          name: backfillQueueName
        }
        {
          name: '${backfillQueueName}-poison'
        }
      ]
      diagnosticSettings: storageDataPlaneLogs
    }
  }
}

module cosmos './app/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: cosmosAccountName
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    containerName: cosmosContainerName
    retentionDays: retentionDays
    serverless: cosmosCapacityMode == 'serverless'
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    continuousBackup: cosmosContinuousBackup
    managedIdentityPrincipalId: identity.outputs.principalId
    userPrincipalId: deployerDataAccess ? principalId : ''
    logAnalyticsWorkspaceId: logAnalytics.outputs.resourceId
    fabricMirrorPrincipalId: fabricMirrorPrincipalId
  }
}

module logAnalytics './app/logAnalytics.bicep' = {
  name: 'loganalytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    retentionDays: logRetentionDays
  }
}

module monitoring 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appinsights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true // telemetry only with Entra ID (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)
  }
}

module keyVault 'br/public:avm/res/key-vault/vault:0.12.1' = if (useKeyVault) {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Off so `azd down --purge` can remove the vault; turn on for production.
    enablePurgeProtection: false
    // The module's defaults are true: no VM, ARM template or disk-encryption access to the credential.
    enableVaultForDeployment: false
    enableVaultForTemplateDeployment: false
    enableVaultForDiskEncryption: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    // Every read of the credential (and every change to it) is logged to the workspace.
    diagnosticSettings: [
      {
        name: 'audit-to-workspace'
        workspaceResourceId: logAnalytics.outputs.resourceId
        logCategoriesAndGroups: [
          {
            category: 'AuditEvent'
          }
        ]
        metricCategories: []
      }
    ]
  }
}

module rbac './app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.name
    keyVaultName: useKeyVault ? keyVaultName : ''
    authMode: authMode
    managedIdentityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    userDataAccess: deployerDataAccess
  }
  dependsOn: [
    keyVault
  ]
}

// Every setting the code reads in Azure (shared/config.ts SETTINGS, less local-only ones); test/infra compares.
var auditfeedSettings = {
  AUDITFEED_TENANT_IDS: tenantIds
  AUDITFEED_CONTENT_TYPES: contentTypes
  AUDITFEED_CLOUD: cloud
  AUDITFEED_AUTH_MODE: authMode
  AUDITFEED_CLIENT_ID: clientId
  AUDITFEED_PUBLISHER_ID: publisherId
  AUDITFEED_COLLECT_SCHEDULE: collectSchedule
  AUDITFEED_RUN_DEADLINE_SECONDS: string(runDeadlineSeconds)
  AUDITFEED_INITIAL_LOOKBACK_HOURS: string(initialLookbackHours)
  AUDITFEED_RETENTION_DAYS: string(retentionDays)
  AUDITFEED_CONTENT_TYPE_RETENTION_DAYS: contentTypeRetentionDays
  AUDITFEED_HTTP_TIMEOUT_SECONDS: string(httpTimeoutSeconds)
  AUDITFEED_MAX_REQUESTS_PER_MINUTE: string(maxRequestsPerMinute)
  AUDITFEED_MAX_RETRIES: string(maxRetries)
  AUDITFEED_STORAGE__blobServiceUri: storageBlobEndpoint
  AUDITFEED_STORAGE__queueServiceUri: storageQueueEndpoint
  AUDITFEED_STORAGE__credential: 'managedidentity'
  AUDITFEED_STORAGE__clientId: identity.outputs.clientId
  AUDITFEED_COSMOS__accountEndpoint: cosmos.outputs.endpoint
  AUDITFEED_COSMOS__credential: 'managedidentity'
  AUDITFEED_COSMOS__clientId: identity.outputs.clientId
  AUDITFEED_COSMOS_DATABASE: cosmosDatabaseName
  AUDITFEED_COSMOS_CONTAINER: cosmosContainerName
  AUDITFEED_QUEUE_NAME: queueName
  AUDITFEED_OVERLAP_MINUTES: string(overlapMinutes)
  AUDITFEED_SWEEP_INTERVAL_MINUTES: string(sweepIntervalMinutes)
  AUDITFEED_TENANT_CONCURRENCY: string(tenantConcurrency)
  AUDITFEED_CONTENT_TYPE_CONCURRENCY: string(contentTypeConcurrency)
  AUDITFEED_FETCH_CONCURRENCY: string(fetchConcurrency)
  AUDITFEED_COLLECT_MODE: collectMode
  AUDITFEED_WORK_QUEUE_NAME: workQueueName
  AUDITFEED_COLLECT_SLOTS: string(collectSlots)
  AUDITFEED_BACKFILL_QUEUE_NAME: backfillQueueName
  AUDITFEED_AUDIT_RETENTION_DAYS: string(auditRetentionDays)
  AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT: string(backfillQueriesInFlight)
  AUDITFEED_BACKFILL_QUERIES_PER_DAY: string(backfillQueriesPerDay)
}

// Only the credential setting of the chosen auth mode is set; the code ignores the others.
var authModeSettings = {
  federated: {
    AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: identity.outputs.clientId
  }
  certificate: {
    AUDITFEED_CLIENT_CERTIFICATE: managementApiCredentialReference
  }
  secret: {
    AUDITFEED_CLIENT_SECRET: managementApiCredentialReference
  }
}

module function './app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    serviceName: serviceName
    appServicePlanId: appServicePlan.outputs.resourceId
    applicationInsightsName: monitoring.outputs.name
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storageBlobEndpoint
    storageQueueEndpoint: storageQueueEndpoint
    storageTableEndpoint: storageTableEndpoint
    deploymentStorageContainerName: deploymentStorageContainerName
    runtimeName: 'node'
    runtimeVersion: '22'
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: union(auditfeedSettings, authModeSettings[authMode])
  }
  // The deployment container and the identity's roles exist before the app first starts.
  dependsOn: [
    storage
    rbac
  ]
}

module alerts './app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    applicationInsightsId: monitoring.outputs.resourceId
    alertEmail: alertEmail
    queueName: queueName
    workQueueName: workQueueName
    lagThresholdSeconds: collectorLagAlertMinutes * 60
    // Three intervals, at least a day: one slow re-listing is not yet a problem.
    sweepThresholdSeconds: max(86400, 3 * sweepIntervalMinutes * 60)
    lateThresholdSeconds: lateContentAlertHours * 3600
    queueBacklogThresholdSeconds: queueBacklogAlertMinutes * 60
    certificateExpiryDays: certificateExpiryAlertDays
    runbookBaseUrl: runbookBaseUrl
  }
}

// Key Vault's own near-expiry events, for the secret's end date the code cannot see (needs an action group).
module vaultExpiry './app/vaultExpiry.bicep' = if (useKeyVault && !empty(alertEmail)) {
  name: 'vault-expiry'
  scope: rg
  params: {
    location: location
    tags: tags
    keyVaultName: keyVaultName
    actionGroupIds: alerts.outputs.actionGroupIds
    runbookUrl: '${runbookBaseUrl}#credential-expiry'
  }
  dependsOn: [
    keyVault
  ]
}

module workbook './app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    applicationInsightsId: monitoring.outputs.resourceId
    cosmosAccountId: cosmos.outputs.resourceId
  }
}

module budget './app/budget.bicep' = if (budgetAmount > 0) {
  name: 'budget'
  scope: rg
  params: {
    // A fixed name: a second one would be a second budget, not this one renamed.
    name: 'budget-${serviceName}'
    amount: budgetAmount
    startDate: empty(budgetStartDate) ? thisMonthStart : budgetStartDate
    alertEmail: alertEmail
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment; scripts/postprovision.js writes local.settings.json from them)
// ---------------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = function.outputs.name
output SERVICE_AUDITFEED_NAME string = function.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_TABLE_ENDPOINT string = storageTableEndpoint
output AZURE_COSMOS_ACCOUNT_NAME string = cosmos.outputs.name
output AZURE_COSMOS_FABRIC_ROLE_DEFINITION_ID string = cosmos.outputs.fabricMirrorRoleDefinitionId
output AZURE_KEY_VAULT_NAME string = useKeyVault ? keyVaultName : ''
output AZURE_KEY_VAULT_SECRET_NAME string = useKeyVault ? keyVaultSecretName : ''
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AUDITFEED_FIC_ISSUER string = federatedCredentialIssuer
output AUDITFEED_FIC_AUDIENCE string = tokenExchangeAudiences[cloud]
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output AZURE_WORKBOOK_URL string = workbook.outputs.url
output AUDITFEED_TENANT_IDS string = tenantIds
output AUDITFEED_CLIENT_ID string = clientId
output AUDITFEED_AUTH_MODE string = authMode
output AUDITFEED_CLOUD string = cloud
output AUDITFEED_CONTENT_TYPES string = contentTypes
output AUDITFEED_PUBLISHER_ID string = publisherId
output AUDITFEED_RETENTION_DAYS string = string(retentionDays)
output AUDITFEED_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AUDITFEED_STORAGE__blobServiceUri string = storageBlobEndpoint
output AUDITFEED_STORAGE__queueServiceUri string = storageQueueEndpoint
output AUDITFEED_COSMOS__accountEndpoint string = cosmos.outputs.endpoint
output AUDITFEED_COSMOS_DATABASE string = cosmosDatabaseName
output AUDITFEED_COSMOS_CONTAINER string = cosmosContainerName
output AUDITFEED_QUEUE_NAME string = queueName
