// Least-privilege Azure RBAC for the function's identity; its data roles are mirrored for the deploying principal
// only when asked to (userDataAccess), and a deploying user may upload the Management API credential.
// Cosmos DB data-plane roles are in cosmos.bicep (sqlRoleAssignments), not here.

param storageAccountName string
param appInsightsName string
@description('Empty when the auth mode needs no Key Vault.')
param keyVaultName string = ''
param authMode string
param managedIdentityPrincipalId string
@description('Deploying user or service principal; empty = no grants.')
param userPrincipalId string = ''
param userPrincipalType string = 'User'
@description('Mirror the function\'s storage data roles to userPrincipalId (local runs against the deployed resources).')
param userDataAccess bool = false

// Built-in role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985'
}

var mirrorForUser = !empty(userPrincipalId) && userDataAccess
var useKeyVault = !empty(keyVaultName)
// The person who runs azd uploads the credential after provisioning (docs/deploy.md), so a User gets the officer
// role whether or not it has data access: a setup step, not access to the audit trail. A pipeline never uploads
// it, so a service principal gets none.
var userUploadsCredential = useKeyVault && !empty(userPrincipalId) && userPrincipalType == 'User'
// A secret, or a certificate (whose PEM the app reads as a secret).
var userKeyVaultRole = authMode == 'certificate' ? roles.keyVaultCertificatesOfficer : roles.keyVaultSecretsOfficer

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = if (useKeyVault) {
  name: keyVaultName
}

// Blob Data Owner, not Contributor: the Functions host needs it for AzureWebJobsStorage; it also covers the
// deployment package and the auditfeed containers.
resource blobForFunction 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, managedIdentityPrincipalId, roles.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The batch queue, its poison queue (writer trigger, collector) and the host's own queues.
resource queueForFunction 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, managedIdentityPrincipalId, roles.storageQueueDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.storageQueueDataContributor
    )
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The Functions host keeps diagnostic events in tables of AzureWebJobsStorage.
resource tableForFunction 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, managedIdentityPrincipalId, roles.storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.storageTableDataContributor
    )
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry with Entra ID (App Insights local auth is off).
resource metricsForFunction 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, managedIdentityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.monitoringMetricsPublisher
    )
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Reads the Key Vault reference of the certificate or secret; nothing else in the vault.
resource secretsForFunction 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useKeyVault) {
  name: guid(keyVault.id, managedIdentityPrincipalId, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource blobForUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (mirrorForUser) {
  name: guid(storageAccount.id, userPrincipalId, roles.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource queueForUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (mirrorForUser) {
  name: guid(storageAccount.id, userPrincipalId, roles.storageQueueDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.storageQueueDataContributor
    )
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource tableForUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (mirrorForUser) {
  name: guid(storageAccount.id, userPrincipalId, roles.storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.storageTableDataContributor
    )
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource keyVaultForUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (userUploadsCredential) {
  name: guid(keyVault.id, userPrincipalId, userKeyVaultRole)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', userKeyVaultRole)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}
