// Log Analytics workspace behind Application Insights, with workspace keys turned off: the pinned AVM
// workspace module does not expose features.disableLocalAuth, so this one resource is written out.

param name string
param location string = resourceGroup().location
param tags object = {}
@description('Days logs are kept.')
param retentionDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionDays
    features: {
      // Only Entra ID may send or read: no shared workspace keys.
      disableLocalAuth: true
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

output resourceId string = workspace.id
output name string = workspace.name
