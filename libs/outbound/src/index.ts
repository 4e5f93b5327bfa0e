export {
  type AddressPolicy,
  STRICT_POLICY,
  ForbiddenAddressError,
  destinationUrlProblem,
  guardedLookup,
  isForbiddenAddress,
} from './address-policy';
export {
  type ClaimedDelivery,
  type DeadLetter,
  type EndpointStats,
  claimDeliveries,
  dismissDeadLetter,
  endpointStats,
  listDeadLetters,
  retryDeadLetter,
} from './deliveries';
export { DeliveryWorker, type OutboundRenderer, type WorkerLogger, type WorkerOptions } from './delivery-worker';
export { enqueue } from './enqueue';
export { type OutboundConfig, type OutboundSettings, outboundEnv, outboundSettingsOf } from './outbound-config';
export { OutboundMetrics } from './outbound-metrics';
export { OUTBOUND_DDL, OutboundTables1765300000000 } from './outbound-tables';
export {
  type EndpointSettings,
  type OutboundRouter,
  type RoutedItem,
  type RouteScope,
  type StoredSecret,
  outboxProjection,
  removeEndpoint,
  saveEndpoint,
} from './outbox';
export {
  REPLAY_LANE,
  ReplayFeeder,
  type ReplayBound,
  type ReplayFeederOptions,
  type ReplayRequest,
  type ReplayView,
  replayStatus,
  requestReplay,
} from './replays';
export { DEFAULT_RETRY, type RetryPolicy, type Verdict, breakerOpenMs, verdictOf } from './retry-policy';
export { SecretBox, type SignatureHeaders, generateSigningSecret, isSigningSecret, signatureHeaders, signingSecrets } from './signing';
export { DEFAULT_SENDER, type SendOutcome, type SenderOptions, WebhookSender, retryAfterMs } from './webhook-sender';
