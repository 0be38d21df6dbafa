-- name: failed-signin-bursts
-- finds: Failed Azure AD sign-ins across the tenant, oldest first. The runner reports accounts with at least `burstFailures` failures within one hour (guessing against one account).
-- fields: Operation, CreationTime, user, clientIp, errorNumber, logonError, userAgent
-- params: @from @to
-- scope: tenant
-- stand-in: the Cosmos DB form counts per account and hour with GROUP BY, which the local stand-in cannot parse; the runner runs the row form and counts client-side.
-- cosmos:
SELECT c.user, SUBSTRING(c.CreationTime, 0, 13) AS hour, COUNT(1) AS failures
FROM c
WHERE c.Operation = 'UserLoginFailed'
  AND c.CreationTime >= @from AND c.CreationTime < @to
GROUP BY c.user, SUBSTRING(c.CreationTime, 0, 13)
-- runner:
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.errorNumber, c.logonError, c.userAgent
FROM c
WHERE c.Operation = 'UserLoginFailed'
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
