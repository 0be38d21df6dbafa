// The operator's dashboard: an Azure Monitor workbook on the Application Insights component. Its log
// queries (workbook.json) read the lines the code writes; test/infra/workbook.test.ts runs them over
// real log lines. Cosmos DB request units and 429s come from the account's platform metrics.

param location string = resourceGroup().location
param tags object = {}
param resourceToken string
param applicationInsightsId string
param cosmosAccountId string

// Resource ids are only known at deployment: workbook.json carries placeholders.
var serializedData = replace(
  replace(loadTextContent('workbook.json'), '__COSMOS_ACCOUNT_ID__', cosmosAccountId),
  '__APP_INSIGHTS_ID__',
  applicationInsightsId
)

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; stable per environment so a redeployment updates it.
  name: guid(resourceGroup().id, 'auditfeed-workbook', resourceToken)
  location: location
  tags: union(tags, {
    'hidden-title': 'auditfeed'
  })
  kind: 'shared'
  properties: {
    displayName: 'auditfeed'
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: serializedData
  }
}

output resourceId string = workbook.id
// Opens the workbook itself; environment().portal is the cloud's portal (sovereign clouds too).
output url string = '${environment().portal}/#@${tenant().tenantId}/resource${workbook.id}/workbook'
