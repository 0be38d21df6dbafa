// Credential expiry from Key Vault itself: Key Vault publishes SecretNearExpiry / CertificateNearExpiry 30 days
// before a version's expiry date, and Event Grid turns each into an Azure Monitor alert on the action group.
// This covers auth mode secret, whose end date the code cannot see (the collector logs a certificate's).

param location string = resourceGroup().location
param tags object = {}
param keyVaultName string
@description('Action groups the alert notifies.')
param actionGroupIds array
@description('Runbook section the alert links.')
param runbookUrl string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource topic 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: 'evgt-${keyVaultName}'
  location: location
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

// The Azure Monitor alert destination arrived in API version 2023-12-15-preview.
resource expiryAlert 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = {
  parent: topic
  name: 'credential-expiry'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.SecretNearExpiry'
        'Microsoft.KeyVault.SecretExpired'
        'Microsoft.KeyVault.CertificateNearExpiry'
        'Microsoft.KeyVault.CertificateExpired'
      ]
    }
    destination: {
      endpointType: 'MonitorAlert'
      properties: {
        severity: 'Sev2'
        actionGroups: actionGroupIds
        description: 'auditfeed: the Management API credential in Key Vault ${keyVaultName} expires within 30 days or has expired; every tenant stops when it does. Runbook: ${runbookUrl}'
      }
    }
  }
}
