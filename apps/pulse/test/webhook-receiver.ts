// The receiver serves every service that sends webhooks (pulse, rewards): it lives in test/support.
export * from '../../../test/support/webhook-receiver';
