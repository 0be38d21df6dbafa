-- name: file-downloads
-- finds: One account's SharePoint and OneDrive file downloads (browser and sync client) with the client IP, file and site. The runner groups them by IP.
-- fields: user, Operation, CreationTime, clientIp, fileName, siteUrl, ObjectId
-- params: @user @from @to
-- scope: user
-- stand-in: the Cosmos DB form counts per IP with GROUP BY, which the local stand-in cannot parse; the runner runs the row form and groups client-side.
-- cosmos:
SELECT c.clientIp, COUNT(1) AS downloads, MIN(c.CreationTime) AS firstDownload, MAX(c.CreationTime) AS lastDownload
FROM c
WHERE c.user = @user
  AND c.Operation IN ('FileDownloaded', 'FileSyncDownloadedFull')
  AND c.CreationTime >= @from AND c.CreationTime < @to
GROUP BY c.clientIp
-- runner:
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.fileName, c.siteUrl, c.ObjectId
FROM c
WHERE c.user = @user
  AND c.Operation IN ('FileDownloaded', 'FileSyncDownloadedFull')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
