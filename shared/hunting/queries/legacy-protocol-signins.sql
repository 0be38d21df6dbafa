-- name: legacy-protocol-signins
-- finds: Sign-ins through legacy (basic) authentication, which skips MFA: the BAV2ROPC user agent (resource-owner password credentials through Exchange Online's legacy protocols), successes and failures.
-- fields: Operation, CreationTime, userAgent, user, clientIp, ResultStatus, errorNumber
-- params: @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.userAgent, c.ResultStatus, c.errorNumber
FROM c
WHERE c.Operation IN ('UserLoggedIn', 'UserLoginFailed')
  AND CONTAINS(c.userAgent, 'BAV2ROPC')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
