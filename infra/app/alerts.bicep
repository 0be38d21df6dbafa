// Azure Monitor log alerts on what the functions log to Application Insights (shared/collector, shared/handlers).
// test/infra/alerts.test.ts runs every query over the trace lines the real code writes, at 1 and 500 tenants.

param location string = resourceGroup().location
param tags object = {}
param resourceToken string
param applicationInsightsId string
@description('Receives alert e-mails; empty = no action group.')
param alertEmail string = ''
param queueName string

@description('The work queue of fanout mode (collection tasks).')
param workQueueName string
@description('Collector lag (now - cursor) above which the lag alert fires.')
param lagThresholdSeconds int
@description('Content found this late (now - contentCreated, by a re-listing) raises an informational alert.')
param lateThresholdSeconds int = 86400
@description('A full re-listing of the 7 days older than this (sweepAgeSeconds) raises the sweep alert.')
param sweepThresholdSeconds int = 86400
@description('The oldest batch waiting in the queue longer than this raises the backlog alert.')
param queueBacklogThresholdSeconds int = 1800
@description('Auth mode certificate: fewer days than this before the client certificate expires raises the expiry alert.')
param certificateExpiryDays int = 30
@description('Runbooks, one section per alert named like the rule; each alert description links its section.')
param runbookBaseUrl string = 'https://github.com/auditfeed/auditfeed/blob/main/docs/runbooks.md'

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

// The collector logs one short line per tenant x content type and run ("Content type collected {...}",
// about 1 KB whatever the number of tenants, far below Application Insights' 32,768-character trace
// limit); the collector alerts read their fields from it.
var perContentType = join(
  [
    'traces'
    '| where message startswith "Content type collected"'
    '| extend s = parse_json(substring(message, indexof(message, "{")))'
  ],
  '\n'
)

// The collector's one "Queue state" line per run (shared/handlers/collect.ts).
var queueState = join(
  [
    'traces'
    '| where message startswith "Queue state"'
    '| extend s = parse_json(substring(message, indexof(message, "{")))'
  ],
  '\n'
)

// Each query returns one row per offending event; the rule fires when there is at least one.
var rules = [
  {
    name: 'collector-lag'
    displayName: 'auditfeed: collector is behind the audit feed'
    description: 'A tenant x content type ended a collector run more than the threshold behind the feed (lagSeconds). Content older than 7 days is lost, so act before then; `npm run status` shows which.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        perContentType
        '| extend lagSeconds = todouble(s.lagSeconds)'
        '| where lagSeconds > ${lagThresholdSeconds}'
        '| project timestamp, tenantId = tostring(s.tenantId), contentType = tostring(s.contentType), lagSeconds'
      ],
      '\n'
    )
  }
  {
    name: 'collection-failed'
    displayName: 'auditfeed: collecting a tenant x content type failed'
    description: 'A tenant x content type ended a collector run with outcome failed (consent revoked, subscription disabled, AF errors, authentication): its cursor does not move until the cause is fixed. The error is in the log line and in `npm run status`.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        perContentType
        '| where tostring(s.outcome) == "failed"'
        '| project timestamp, tenantId = tostring(s.tenantId), contentType = tostring(s.contentType), error = tostring(s.error)'
      ],
      '\n'
    )
  }
  {
    name: 'quarantined-blob'
    displayName: 'auditfeed: content blobs are quarantined'
    description: 'Content blobs could not be read (a body of the wrong shape, a failing server) and are set aside; they are retried until they are collected or expire, when they become gaps. Fires every run while any is quarantined; `npm run status` lists them with their errors.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        perContentType
        '| extend quarantined = toint(s.quarantined)'
        '| where quarantined > 0'
        '| project timestamp, tenantId = tostring(s.tenantId), contentType = tostring(s.contentType), quarantined'
      ],
      '\n'
    )
  }
  {
    name: 'sweep-behind'
    displayName: 'auditfeed: the full re-listing of the 7 days is not finishing'
    description: 'A tenant x content type has not finished re-listing the API retention for longer than the threshold: content the service lists late may expire before it is found. Look at the runs errors and deadlines in `npm run status`.'
    severity: 2
    frequency: 'PT1H'
    window: 'PT1H'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        perContentType
        '| extend sweepAgeSeconds = todouble(s.sweepAgeSeconds)'
        '| where sweepAgeSeconds > ${sweepThresholdSeconds}'
        '| project timestamp, tenantId = tostring(s.tenantId), contentType = tostring(s.contentType), sweepAgeSeconds'
      ],
      '\n'
    )
  }
  {
    name: 'late-content'
    displayName: 'auditfeed: content appeared in the feed very late'
    description: 'A re-listing found content blobs the service listed more than the threshold after their contentCreated. They were collected; very late content risks expiring before a re-listing finds it (see AUDITFEED_SWEEP_INTERVAL_MINUTES).'
    severity: 3
    frequency: 'PT1H'
    window: 'PT1H'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        perContentType
        '| extend lateBlobs = toint(s.lateBlobs), maxLatenessSeconds = todouble(s.maxLatenessSeconds)'
        '| where maxLatenessSeconds > ${lateThresholdSeconds}'
        '| project timestamp, tenantId = tostring(s.tenantId), contentType = tostring(s.contentType), lateBlobs, maxLatenessSeconds'
      ],
      '\n'
    )
  }
  {
    name: 'rejected-record'
    displayName: 'auditfeed: records were refused'
    description: 'Records the pipeline could not store (not a JSON object, nested too deep, too large, no Id) were kept with the reason in the rejected container; the rest of their blobs and batches were stored.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: 'traces | where message startswith "Record refused by the collector" or (message startswith "Record " and message contains " rejected: ") | project timestamp, message'
  }
  {
    name: 'collector-silent'
    displayName: 'auditfeed: collector has not finished a run for an hour'
    description: 'No "Collector run finished" (inline) or "Collection tasks dispatched" (fanout) in the last hour: the timer is not firing or every run fails.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT1H'
    operator: 'LessThan'
    threshold: 1
    query: 'traces | where message startswith "Collector run finished" or message startswith "Collection tasks dispatched"'
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
    name: 'collection-task-lost'
    displayName: 'auditfeed: collection tasks were lost or could not be dispatched'
    description: 'Fanout mode: a tenant x content type task was lost (its worker died or timed out, or its message went to ${workQueueName}-poison) and the timer took the unit back, or the timer could not dispatch tasks. Nothing is lost, but a unit that keeps losing its task does not move.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        'traces'
        '| where message startswith "Collection task lost"'
        '    or message startswith "Collection tasks could not be dispatched"'
        '    or message startswith "Work poison queue holds"'
        '    or (message has "MaxDequeueCount" and message contains "${workQueueName}-poison")'
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
  {
    name: 'queue-backlog'
    displayName: 'auditfeed: batches wait in the queue too long'
    description: 'The oldest batch in ${queueName} has waited longer than the threshold: the writer is not keeping up (Cosmos DB throttling, too few instances) or keeps failing. Look at the writer errors and Cosmos DB 429s on the dashboard.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        queueState
        '| extend oldestMessageAgeSeconds = todouble(s.oldestMessageAgeSeconds)'
        '| where oldestMessageAgeSeconds > ${queueBacklogThresholdSeconds}'
        '| project timestamp, queue = tostring(s.queue), approximateMessages = tolong(s.approximateMessages), oldestMessageAgeSeconds'
      ],
      '\n'
    )
  }
  {
    name: 'credential-expiry'
    displayName: 'auditfeed: the Management API client certificate expires soon'
    description: 'Auth mode certificate: the client certificate expires in fewer days than the threshold; when it does, every tenant fails at once. Upload a new certificate to the app registration and Key Vault. (A client secret\'s expiry cannot be seen by the code: watch it in Entra ID.)'
    severity: 2
    frequency: 'PT1H'
    window: 'PT1H'
    operator: 'GreaterThan'
    threshold: 0
    query: join(
      [
        'traces'
        '| where message startswith "Client certificate expiry"'
        '| extend s = parse_json(substring(message, indexof(message, "{")))'
        '| extend daysLeft = toint(s.daysLeft)'
        '| where daysLeft < ${certificateExpiryDays}'
        '| project timestamp, thumbprint = tostring(s.thumbprint), notAfter = tostring(s.notAfter), daysLeft'
      ],
      '\n'
    )
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
      // The runbook section is named like the rule (docs/runbooks.md).
      alertDescription: '${rule.description} Runbook: ${runbookBaseUrl}#${rule.name}'
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

output actionGroupIds array = actionGroupIds
