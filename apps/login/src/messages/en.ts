/**
 * Login's pages in English (sign-in, consent, and oidc-provider's own: device flow, sign-out,
 * errors): the catalogue every other language translates, key for key (`fr.ts`).
 */
export const en = {
  'signIn.title': 'Sign in',
  'signIn.submit': 'Sign in',
  'field.email': 'E-mail',
  'field.password': 'Password',
  'journey.forgotPassword': 'Forgot your password?',
  'journey.signUp': 'Create an account',
  'failure.invalid_credentials': 'The e-mail address or the password is not correct.',
  'failure.locked': 'Too many failed attempts. Try again later or reset your password.',
  'failure.throttled': 'Too many failed attempts. Try again later or reset your password.',
  'failure.email_unverified': 'Confirm your e-mail address first: follow the link in the mail we sent you.',
  'failure.busy': 'Many people of this service are signing in right now. Try again in a moment.',
  'form.notAnAddress': 'Enter your e-mail address: it is a single line of at most 254 characters.',
  'form.noPassword': 'Enter your password.',
  'consent.title': 'Allow access',
  'consent.asks': 'The application {client} asks for:',
  'consent.allow': 'Allow',
  'consent.deny': 'Deny',
  'device.title': 'Connect a device',
  'device.enterCode': 'Enter the code your device shows.',
  'device.invalidCode': 'That code is not valid. Try again.',
  'device.confirm': 'Connect {client} with the code {code}?',
  'device.continue': 'Continue',
  'device.connected.title': 'Device connected',
  'device.connected': 'You can return to your device.',
  'signOut.title': 'Sign out',
  'signOut.question': 'Do you want to sign out of {site}?',
  'signOut.confirm': 'Sign out',
  'signOut.stay': 'Stay signed in',
  'signedOut.title': 'Signed out',
  'signedOut.done': 'You are signed out.',
  'error.title': 'Something went wrong',
} as const;

export type LoginMessageKey = keyof typeof en;
