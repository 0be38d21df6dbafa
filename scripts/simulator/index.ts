/**
 * Office 365 Management Activity API simulator: a real HTTP(S) server on 127.0.0.1 that plays the
 * API (subscriptions, content listing, blobs), Entra ID (token endpoints, OpenID metadata) and the
 * App Service managed-identity endpoint, with deterministic lazily generated content, fault
 * injection and ground truth for tests.
 *
 *   const sim = await startSimulator({ scenario: { seed: 1, tenants: [{ tenantId }] }, tls: true });
 *   new ClientSecretCredential(tenantId, app.clientId, app.clientSecret, {
 *     authorityHost: sim.baseUrl, disableInstanceDiscovery: true, tlsOptions: { ca: sim.caPem } });
 */
export { startSimulator } from './server';
export type {
  GraphAuditControl,
  LatencyControl,
  ManagedIdentityEndpoint,
  RateLimitControl,
  Simulator,
  SimulatorOptions,
  SubscriptionControl,
} from './server';
export { LATENCY_DEFAULT_ROUTES, latencyFor } from './latency';
export type { LatencyRange, LatencySpec, ResolvedLatency } from './latency';
export { RATE_WINDOW_MS } from './ratelimit';
export type { TenantRateStats } from './ratelimit';
export {
  loadScenarioFile,
  resolveScenario,
  DEFAULT_RECORDS_PER_HOUR,
  HOSTILE_BLOB_DEFAULTS,
} from './scenario';
export type {
  AppSpec,
  ExplicitBlobSpec,
  ManagedIdentitySpec,
  ResolvedApp,
  ResolvedScenario,
  ResolvedStory,
  ScenarioSpec,
  StorySpec,
  TenantSpec,
  UnreadableSpec,
} from './scenario';
export { UNREADABLE_KINDS } from './unreadable';
export type { UnreadableKind } from './unreadable';
export { DEEP_LEVELS, HOSTILE_KINDS, HOSTILE_OUTCOMES, HUGE_STRING_CHARS } from './hostile';
export type { HostileKind, RecordOutcome } from './hostile';
export type { LateDistribution } from './lateness';
export { DEFAULT_RANDOM_ACTIONS, FAULT_ROUTES } from './faults';
export type {
  FaultAction,
  FaultController,
  FaultHandle,
  FaultRoute,
  FaultRule,
  RandomFaultOptions,
} from './faults';
export type {
  RejectedRecord,
  RequestLogEntry,
  Truth,
  TruthBlob,
  TruthFilter,
  TruthRecord,
  TruthAttack,
  TruthConsent,
  TruthLookAlike,
  TruthStory,
  TruthStoryRecord,
} from './truth';
export { attackOf } from './truth';
export { ATTACK_PHASES, LOOK_ALIKE_KINDS, STEP_PHASE } from './records';
export type { AttackPhase, LookAlikeKind } from './records';
export type { SimClock, ClockOptions } from './clock';
export type { SubscriptionInfo, SubscriptionState } from './subscriptions';
export { createSelfSignedCertificate } from './tls';
export type { SelfSignedCertificate } from './tls';
export { AF_MESSAGES, afStatus } from './errors';
export { API_RESOURCES } from './tokens';
export {
  GRAPH_AUDIT_PERMISSION,
  GRAPH_RECORD_TYPES,
  GRAPH_RESOURCES,
  GRAPH_USER_TYPES,
  auditLogRecordText,
} from './graphAudit';
export type {
  GraphAuditSpec,
  GraphAuditStats,
  GraphQueryInfo,
  GraphTruthFilter,
  ResolvedGraphAudit,
} from './graphAudit';
