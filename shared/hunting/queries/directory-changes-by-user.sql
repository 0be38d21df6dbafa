-- name: directory-changes-by-user
-- finds: Azure AD directory changes one account made (RecordType 8: service principals added, consents, permission grants, app role assignments, role and user changes) with what they name (ObjectId, Target, ModifiedProperties, ExtendedProperties). The runner keeps those naming one application id, to tie an app seen reading mail back to the consent that let it.
-- fields: user, recordType, CreationTime, Operation, clientIp, ObjectId, Target, ModifiedProperties, ExtendedProperties
-- params: @user @from @to
-- scope: user
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.ObjectId, c.Target, c.ModifiedProperties,
  c.ExtendedProperties
FROM c
WHERE c.user = @user
  AND c.recordType = 8
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
