import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import type { Rng } from './rng';
import { makeAzureAdRecord } from './records/azureAd';
import type { EdgeCaseRates } from './records/edgeCases';
import { EDGE_CASE_RATES, NO_EDGE_CASES, applyEdgeCases } from './records/edgeCases';
import type { TenantProfile } from './records/common';
import { makeDlpRecord } from './records/dlp';
import { makeExchangeRecord } from './records/exchange';
import { makeGeneralRecord } from './records/general';
import { makeSharePointRecord } from './records/sharePoint';

export type { SimUser, TenantProfile, SimSite, SimApp, SimTeam, SimDlpPolicy } from './records/common';
export { formatCreationTime, makeTenantProfile } from './records/common';
export type { EdgeCaseRates } from './records/edgeCases';
export { EDGE_CASE_RATES, NO_EDGE_CASES } from './records/edgeCases';
export type { AttackPhase, BecConsent, BecLookAlike, BecStory, LookAlikeKind } from './records/bec';
export { ATTACK_PHASES, BEC_MIN_USERS, LOOK_ALIKE_KINDS, STEP_PHASE, becStory } from './records/bec';
export type { ConsentApp } from './records/consent';
export { makeLargeRecord, recordBytes } from './records/large';

export interface MakeRecordOptions {
  /** Override or disable (`false`) the edge-case rates; default EDGE_CASE_RATES. */
  edgeCases?: Partial<EdgeCaseRates> | false;
}

/**
 * One audit record of `contentType` at `creationTime`, a pure function of the inputs and the rng's state.
 * Operations follow realistic weights per content type; rare oddities of the real feed are sprinkled in at
 * EDGE_CASE_RATES.
 */
export function makeRecord(
  contentType: ContentType,
  creationTime: Date,
  tenant: TenantProfile,
  rng: Rng,
  options: MakeRecordOptions = {},
): AuditRecord {
  const ctx = { tenant, rng, time: creationTime };
  let record: AuditRecord;
  switch (contentType) {
    case 'Audit.AzureActiveDirectory':
      record = makeAzureAdRecord(ctx);
      break;
    case 'Audit.Exchange':
      record = makeExchangeRecord(ctx);
      break;
    case 'Audit.SharePoint':
      record = makeSharePointRecord(ctx);
      break;
    case 'Audit.General':
      record = makeGeneralRecord(ctx);
      break;
    case 'DLP.All':
      record = makeDlpRecord(ctx);
      break;
  }
  const rates = options.edgeCases === false ? NO_EDGE_CASES : { ...EDGE_CASE_RATES, ...options.edgeCases };
  return applyEdgeCases(record, rng, rates);
}
