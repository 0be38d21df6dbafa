-- name: user-timeline
-- finds: Everything one account did across workloads (Azure AD, Exchange, SharePoint, OneDrive, Teams, DLP), oldest first, with the normalised fields that say what and from where.
-- fields: user, CreationTime, Operation, Workload, ResultStatus, clientIp, userAgent, ObjectId, inboxRuleName, forwardTo, redirectTo, forwardingSmtpAddress, mailAccessType, fileName, siteUrl, QueryText, contentType
-- params: @user @from @to
-- scope: user
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.Workload, c.contentType, c.ResultStatus, c.clientIp, c.userAgent,
  c.ObjectId, c.inboxRuleName, c.forwardTo, c.redirectTo, c.forwardingSmtpAddress, c.mailAccessType,
  c.OperationCount, c.fileName, c.siteUrl, c.QueryText
FROM c
WHERE c.user = @user
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
