-- name: consent-and-app-credentials
-- finds: OAuth consent grants (an account or admin consenting to an application's permissions, the illicit-consent pattern) and new credentials (secrets, certificates) or owners added to applications and service principals, the persistence pattern. `user` is who did it; ObjectId and Target name the application.
-- fields: Operation, CreationTime, user, clientIp, ObjectId, Target, ModifiedProperties
-- params: @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.ResultStatus, c.ObjectId, c.Target, c.ModifiedProperties
FROM c
WHERE c.Operation IN (
    'Consent to application.',
    'Add delegated permission grant.',
    'Add app role assignment to service principal.',
    'Add service principal credentials.',
    'Update application – Certificates and secrets management ',
    'Add owner to application.',
    'Add owner to service principal.')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
