// The Function App on Flex Consumption: user-assigned identity, identity-based connections only.

param name string
param location string = resourceGroup().location
param tags object = {}
param serviceName string
param appServicePlanId string
param applicationInsightsName string
param identityId string
param identityClientId string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentStorageContainerName string
param runtimeName string
param runtimeVersion string
param instanceMemoryMB int = 2048
param maximumInstanceCount int = 40
@description('auditfeed settings; merged with the host settings below.')
param appSettings object = {}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Host storage (timer locks, deployment package, diagnostic events in tables) through the same identity.
var hostSettings = {
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Not a secret: it only names where to send telemetry; sending needs the Entra token below.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

module site 'br/public:avm/res/web/site:0.22.0' = {
  name: '${serviceName}-flex-consumption'
  params: {
    kind: 'functionapp,linux'
    name: name
    location: location
    tags: union(tags, {
      'azd-service-name': serviceName
    })
    serverFarmResourceId: appServicePlanId
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [
        identityId
      ]
    }
    // Key Vault references (auth modes certificate and secret) resolve with the same identity.
    keyVaultAccessIdentityResourceId: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
    // Replaces the module's whole default (alwaysOn, minTlsVersion 1.2, ftpsState FtpsOnly), so the hardening is
    // restated: Flex Consumption has no Always On, TLS 1.2 at least, and no FTP at all (deployment is by blob).
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    httpsOnly: true
    // No publishing with user or site passwords (on by default): azd publishes to Flex Consumption's /api/publish
    // with an Entra ID token, so basic auth on FTP and the SCM site is only an extra way in.
    basicPublishingCredentialsPolicies: [
      {
        name: 'ftp'
        allow: false
      }
      {
        name: 'scm'
        allow: false
      }
    ]
    configs: [
      {
        name: 'appsettings'
        properties: union(appSettings, hostSettings)
      }
    ]
  }
}

output name string = site.outputs.name
output resourceId string = site.outputs.resourceId
