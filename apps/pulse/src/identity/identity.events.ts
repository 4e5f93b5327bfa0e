import { defineEvent } from '#cqrs';

export const PROFILE_STREAM_PREFIX = 'pulse.profile-';

export function profileStreamFor(tenantId: string, profileId: string): string {
  return `${PROFILE_STREAM_PREFIX}${tenantId}.${profileId}`;
}

/**
 * Two profiles turned out to be one person. Identifier values are not repeated here (an e-mail's
 * is a blind index anyway): the kind says why, the message id says which message showed it.
 */
export const ProfilesMerged = defineEvent<{
  survivorId: string;
  mergedId: string;
  viaKind: string;
  messageId: string;
  mergedAt: string;
}>()('ProfilesMerged');

export const identityEvents = [ProfilesMerged];
