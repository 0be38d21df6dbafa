-- name: password-spraying
-- finds: Password spraying: one client IP failing sign-ins against many distinct accounts. Returns the failed sign-ins and the successful ones of the same period; the runner reports an IP that failed against at least `sprayUsers` distinct accounts, and any account that then signed in successfully from it.
-- fields: Operation, CreationTime, clientIp, user, ResultStatus, errorNumber
-- params: @from @to
-- scope: tenant
-- stand-in: the Cosmos DB form lists IP and account pairs with GROUP BY (Cosmos DB has no COUNT(DISTINCT): count the pairs per IP), which the local stand-in cannot parse; the runner runs the row form and counts distinct accounts per IP client-side.
-- cosmos:
SELECT c.clientIp, c.user, COUNT(1) AS failures
FROM c
WHERE c.Operation = 'UserLoginFailed'
  AND c.CreationTime >= @from AND c.CreationTime < @to
GROUP BY c.clientIp, c.user
-- runner:
SELECT c.Id, c.CreationTime, c.clientIp, c.user, c.Operation, c.ResultStatus, c.errorNumber
FROM c
WHERE c.Operation IN ('UserLoginFailed', 'UserLoggedIn')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
