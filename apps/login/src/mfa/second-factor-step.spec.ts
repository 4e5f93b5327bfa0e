import { offerOf } from './second-factor-step';

describe('what the second step offers', () => {
  test('an authenticator app alone: the code field; with passkeys too: both', () => {
    expect(offerOf({ codes: true, passkeys: false })).toEqual({ codes: true, passkey: false });
    expect(offerOf({ codes: true, passkeys: true })).toEqual({ codes: true, passkey: true });
  });

  test('passkeys alone: no code field, which the person could not fill', () => {
    expect(offerOf({ codes: false, passkeys: true })).toEqual({ codes: false, passkey: true });
  });

  test('an interaction saved before codes were recorded keeps its code field', () => {
    expect(offerOf({ passkeys: true })).toEqual({ codes: true, passkey: true });
    expect(offerOf({})).toEqual({ codes: true, passkey: false });
  });
});
