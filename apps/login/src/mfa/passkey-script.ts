import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { escapeHtml } from '#platform';

/** Where the pages load it from: one path for every tenant (the CSP's script-src 'self'). */
export const PASSKEY_SCRIPT_PATH = '/assets/passkeys.js';

/**
 * The browser half of passkeys: navigator.credentials with the options login sends, the answer
 * posted back as JSON. It drives the `#passkey` block a page renders hidden (data-mode: enrol,
 * sign-in or second-factor; data-options, data-verify, data-csrf, data-failed), and shows it only
 * where WebAuthn exists, so a page without JavaScript is the page it was. On the sign-in page it
 * also offers the browser's passkey autofill (conditional mediation) on the e-mail field, with the
 * options the page carries (data-request): no request comes before the passkey; a later attempt
 * asks for fresh options.
 * Written for today's browsers without a build step; the JSON helpers of WebAuthn level 3 are used
 * when present, a few lines of base64url otherwise.
 */
export const PASSKEY_SCRIPT = `(() => {
  'use strict';
  const box = document.getElementById('passkey');
  if (!box || !window.PublicKeyCredential || !navigator.credentials) return;
  const mode = box.dataset.mode;
  const button = document.getElementById('passkey-button');
  const error = document.getElementById('passkey-error');
  const toBytes = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const toText = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const creationOptions = (json) =>
    PublicKeyCredential.parseCreationOptionsFromJSON
      ? PublicKeyCredential.parseCreationOptionsFromJSON(json)
      : { ...json, challenge: toBytes(json.challenge), user: { ...json.user, id: toBytes(json.user.id) },
          excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })) };
  const requestOptions = (json) =>
    PublicKeyCredential.parseRequestOptionsFromJSON
      ? PublicKeyCredential.parseRequestOptionsFromJSON(json)
      : { ...json, challenge: toBytes(json.challenge), allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })) };
  const answer = (credential) => {
    if (typeof credential.toJSON === 'function') return credential.toJSON();
    const r = credential.response;
    const common = { id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults() };
    if (r.attestationObject) return { ...common, response: { clientDataJSON: toText(r.clientDataJSON),
      attestationObject: toText(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] } };
    return { ...common, response: { clientDataJSON: toText(r.clientDataJSON), authenticatorData: toText(r.authenticatorData),
      signature: toText(r.signature), ...(r.userHandle ? { userHandle: toText(r.userHandle) } : {}) } };
  };
  const post = async (url, body) => {
    const response = await fetch(url, { method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(json.detail || json.title || String(response.status));
    return json;
  };
  const csrf = box.dataset.csrf;
  const fail = (reason) => {
    if (reason && reason.name === 'AbortError') return;
    error.textContent = box.dataset.failed;
    error.hidden = false;
  };
  let pending;
  let carried = box.dataset.request ? JSON.parse(box.dataset.request) : undefined;
  const signIn = async (mediation) => {
    if (pending) pending.abort();
    const controller = new AbortController();
    pending = controller;
    const options = carried || (await post(box.dataset.options, { csrf }));
    carried = undefined;
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options), signal: controller.signal,
      ...(mediation ? { mediation } : {}) });
    const done = await post(box.dataset.verify, { csrf, response: answer(credential) });
    window.location.assign(done.location);
  };
  const enrol = async () => {
    const options = await post(box.dataset.options, { csrf });
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    const name = document.getElementById('passkey-name').value;
    await post(box.dataset.verify, { csrf, name, response: answer(credential) });
    window.location.reload();
  };
  box.hidden = false;
  button.addEventListener('click', () => {
    error.hidden = true;
    (mode === 'enrol' ? enrol() : signIn()).catch(fail);
  });
  if (mode === 'sign-in' && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (available) signIn('conditional').catch((reason) => { if (reason && reason.name !== 'AbortError') fail(reason); });
    });
  }
})();
`;

/** The `#passkey` block the script drives: hidden until the script finds WebAuthn in the browser. */
export function passkeyBlock(block: {
  readonly mode: 'enrol' | 'sign-in' | 'second-factor';
  /** Where the script asks for options, and where it posts the answer. */
  readonly options: string;
  readonly verify: string;
  readonly csrf: string;
  /** The button's words, and what the page says when the passkey did not work (HTML-escaped already). */
  readonly label: string;
  readonly failed: string;
  /** Fields shown above the button (the name of a new passkey), already safe HTML. */
  readonly fields?: string;
  /** Options the page carries for its first attempt (the sign-in page's), so none is asked for first. */
  readonly request?: object;
}): string {
  const request = block.request ? ` data-request="${escapeHtml(JSON.stringify(block.request))}"` : '';
  return `<div id="passkey" hidden data-mode="${block.mode}" data-options="${escapeHtml(block.options)}" data-verify="${escapeHtml(
    block.verify,
  )}" data-csrf="${escapeHtml(block.csrf)}" data-failed="${block.failed}"${request}>${block.fields ?? ''}
<button type="button" id="passkey-button" class="secondary">${block.label}</button>
<p class="error" role="alert" id="passkey-error" hidden></p></div>`;
}

@Controller()
export class PasskeyScriptController {
  @Get(PASSKEY_SCRIPT_PATH.slice(1))
  async script(@Res() reply: FastifyReply): Promise<void> {
    await reply
      .code(200)
      .headers({
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      })
      .send(PASSKEY_SCRIPT);
  }
}
