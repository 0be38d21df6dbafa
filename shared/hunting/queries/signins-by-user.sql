-- name: signins-by-user
-- finds: One account's Azure AD sign-ins (successes and failures) with the client IP and user agent of each, oldest first. The runner lists each IP with its first and last sign-in and whether it was seen before the range.
-- fields: user, Operation, CreationTime, clientIp, userAgent, ResultStatus, errorNumber, logonError
-- params: @user @from @to
-- scope: user
-- stand-in: the Cosmos DB form groups per IP with GROUP BY, which the local stand-in cannot parse; the runner runs the row form and groups client-side (first seen, last seen, count per IP). Countries are not in audit records: the runner fills them only when given an IP-to-country lookup.
-- cosmos:
SELECT c.clientIp, MIN(c.CreationTime) AS firstSeen, MAX(c.CreationTime) AS lastSeen, COUNT(1) AS signIns
FROM c
WHERE c.user = @user
  AND c.Operation IN ('UserLoggedIn', 'UserLoginFailed')
  AND c.CreationTime >= @from AND c.CreationTime < @to
GROUP BY c.clientIp
-- runner:
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.userAgent, c.ResultStatus, c.errorNumber, c.logonError
FROM c
WHERE c.user = @user
  AND c.Operation IN ('UserLoggedIn', 'UserLoginFailed')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
