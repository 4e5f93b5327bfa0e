import type { RegisterSettings, TenantRef } from '../register.ports';
import type { OutgoingMail } from './mailer';

export function verificationMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings): OutgoingMail {
  const link = `${settings.publicUrl}/t/${tenant.slug}/verify-email#token=${encodeURIComponent(token)}`;
  return {
    to,
    subject: `${tenant.name}: confirm your e-mail address`,
    text: [
      `Welcome to ${tenant.name}.`,
      '',
      `Confirm your e-mail address: ${link}`,
      `Or enter this code: ${token}`,
      '',
      `The code expires in ${Math.round(settings.verificationTokenTtlMs / 3_600_000)} hours.`,
    ].join('\n'),
  };
}

export function passwordResetMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings): OutgoingMail {
  const link = `${settings.publicUrl}/t/${tenant.slug}/reset-password#token=${encodeURIComponent(token)}`;
  return {
    to,
    subject: `${tenant.name}: reset your password`,
    text: [
      `Someone asked to reset the password of your ${tenant.name} account.`,
      `If it was you: ${link}`,
      `Or enter this code: ${token}`,
      '',
      'If it was not you, ignore this message: your password stays as it is.',
    ].join('\n'),
  };
}
