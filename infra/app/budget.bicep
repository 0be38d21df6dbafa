// Monthly cost budget on the resource group, so a cost surprise reaches someone before the invoice does.

@description('Budget name, unique in the resource group.')
param name string
@minValue(1)
@description('Monthly amount, in the billing currency.')
param amount int
@description('First day of the first month, yyyy-MM-01. Budgets refuse a changed start date on update.')
param startDate string
@description('Receives the notifications (a resource-group budget needs an address or an action group).')
param alertEmail string

resource budget 'Microsoft.Consumption/budgets@2023-11-01' = {
  name: name
  properties: {
    category: 'Cost'
    amount: amount
    timeGrain: 'Monthly'
    timePeriod: {
      startDate: startDate
    }
    notifications: {
      // Spent: 80% of the month's budget is gone.
      actual80: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 80
        thresholdType: 'Actual'
        contactEmails: [
          alertEmail
        ]
      }
      // Forecast: at this rate the month ends over budget; early enough to act.
      forecasted100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Forecasted'
        contactEmails: [
          alertEmail
        ]
      }
    }
  }
}

output resourceId string = budget.id
