// Azure Monitor log alerts on what the functions log to Application Insights (shared/collector, shared/handlers).
// test/infra checks that every phrase these queries look for is still logged by the code.

param location string = resourceGroup().location
param tags object = {}
param resourceToken string
param applicationInsightsId string
@description('Receives alert e-mails; empty = no action group.')
param alertEmail string = ''
param queueName string
@description('Collector lag (now - cursor) above which the lag alert fires.')
param lagThresholdSeconds int

var abbrs = loadJsonContent('../abbreviations.json')
var notify = !empty(alertEmail)

module actionGroup 'br/public:avm/res/insights/action-group:0.8.0' = if (notify) {
  name: 'alerts-action-group'
  params: {
    name: '${abbrs.insightsActionGroups}auditfeed-${resourceToken}'
    groupShortName: 'auditfeed'
    location: 'global'
    tags: tags
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroupIds = notify ? [actionGroup!.outputs.resourceId] : []

// Each query returns one row per offending event; the rule fires when there is at least one.
var rules = [
  {
    name: 'collector-lag'
    displayName: 'auditfeed: collector is behind the audit feed'
    description: 'A collector run ended more than the threshold behind the feed (maxLagSeconds in the run summary). Content older than 7 days is lost, so act before then.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        'traces'
        '| where message startswith "Collector run finished"'
        '| extend run = parse_json(substring(message, indexof(message, "{")))'
        '| extend maxLagSeconds = todouble(run.summary.maxLagSeconds)'
        '| where maxLagSeconds > ${lagThresholdSeconds}'
        '| project timestamp, maxLagSeconds'
      ],
      '\n'
    )
  }
  {
    name: 'collector-silent'
    displayName: 'auditfeed: collector has not finished a run for an hour'
    description: 'No "Collector run finished" in the last hour: the timer is not firing or every run fails.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT1H'
    operator: 'LessThan'
    threshold: 1
    query: 'traces | where message startswith "Collector run finished"'
  }
  {
    name: 'recorded-gap'
    displayName: 'auditfeed: a gap was recorded'
    description: 'The service no longer had content the collector needed; its time range is in the log line and in `npm run status`.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: 'traces | where message contains "recorded as a gap" | project timestamp, message'
  }
  {
    name: 'poison-message'
    displayName: 'auditfeed: batches wait in the poison queue'
    description: 'A batch failed maxDequeueCount times and is in ${queueName}-poison (a copy is archived). The collector reports the poison queue every run, so this fires until it is empty. Fix the cause, then run `npm run replay-poison`.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        'traces'
        '| where (message has "MaxDequeueCount" and message contains "${queueName}-poison")'
        '    or message contains "goes to the poison queue"'
        '    or message startswith "Poison queue holds"'
        '| project timestamp, message'
      ],
      '\n'
    )
  }
  {
    name: 'function-failures'
    displayName: 'auditfeed: function invocations failed'
    description: 'A collector or writer invocation failed. Writer failures are retried; repeated ones end in the poison queue.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: 'requests | where success == false | project timestamp, operation_Name, resultCode'
  }
]

module alertRules 'br/public:avm/res/insights/scheduled-query-rule:0.6.0' = [
  for rule in rules: {
    name: 'alert-${rule.name}'
    params: {
      name: '${abbrs.insightsScheduledQueryRules}auditfeed-${rule.name}-${resourceToken}'
      location: location
      tags: tags
      kind: 'LogAlert'
      alertDisplayName: rule.displayName
      alertDescription: rule.description
      severity: rule.severity
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      autoMitigate: true
      scopes: [
        applicationInsightsId
      ]
      actions: {
        actionGroupResourceIds: actionGroupIds
      }
      criterias: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: rule.operator
            threshold: rule.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
    }
  }
]
