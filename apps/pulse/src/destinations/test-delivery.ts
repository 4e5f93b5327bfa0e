import { randomUUID } from 'node:crypto';
import { signatureHeaders, signingSecrets, type SecretBox, type WebhookSender } from '#outbound';
import type { DestinationState } from './destination.decider';
import { mapped, webhookBody } from './webhook-format';

export interface TestDeliveryReport {
  readonly webhookId: string;
  /** Whether the receiver answered 2xx. */
  readonly delivered: boolean;
  /** The receiver's status, when it answered. */
  readonly status?: number;
  /** Why nothing was answered (refused address, timeout, connection refused). */
  readonly error?: string;
}

/**
 * Sends one sample track call to a destination, now, signed and shaped as its real deliveries
 * are (mappings, batching), through the same guarded sender, and says how the receiver answered.
 * Nothing is queued or retried: it is for the person setting the destination up.
 */
export async function sendTestDelivery(
  sender: WebhookSender,
  box: SecretBox,
  state: DestinationState,
  now: Date,
): Promise<TestDeliveryReport> {
  const settings = state.settings!;
  const at = now.toISOString();
  const sample = {
    type: 'track',
    messageId: `test-${randomUUID()}`,
    userId: 'tessera-test-user',
    anonymousId: null,
    event: 'Tessera Test Delivery',
    properties: { test: true },
    context: { library: { name: 'tessera', version: '1' } },
    timestamp: at,
    receivedAt: at,
  };
  const body = webhookBody([mapped(sample, settings.mappings)], settings);
  const webhookId = `msg_test_${randomUUID()}`;
  const secrets = signingSecrets(box, state.secrets, state.destinationId!, now);
  const outcome = await sender.post(settings.url, { ...signatureHeaders(secrets, webhookId, now, body) }, body);
  if (outcome.kind === 'failed') return { webhookId, delivered: false, error: outcome.error };
  return { webhookId, delivered: outcome.status >= 200 && outcome.status < 300, status: outcome.status };
}
