// DESK-1: how people sign in. The config file served beside the desk (/desk/config.json) says:
// `{"auth": "tokens"}` (switchboard serve: a token of the desk file's [[tokens]], pasted in), or
// `{"auth": "oidc", …}` (the SAM stack, written by scripts/deploy-desk: OpenID Connect with the
// authorization code and PKCE, at the stack's Cognito user pool or the issuer given to it).
// Tokens live in this tab's sessionStorage and travel in the Authorization header only, never in
// a URL. The code in the provider's redirect is not a token (it is worth nothing without the
// verifier this tab keeps) and leaves the address bar before anything else happens.

const FLOW_KEY = 'switchboard.oidc';

/** The desk's config: `{auth: 'tokens'}` when there is none. */
export async function loadConfig() {
  const response = await fetch('/desk/config.json', { cache: 'no-store' });
  if (!response.ok) return { auth: 'tokens' };
  const config = await response.json();
  if (config.auth === 'oidc') {
    for (const key of ['client_id', 'authorization_endpoint', 'token_endpoint', 'redirect_uri']) {
      if (!config[key]) throw new Error(`the desk's config.json has no ${key}`);
    }
  }
  return config;
}

function base64url(bytes) {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `bytes` random bytes, base64url: 32 make a 43-character PKCE verifier (RFC 7636 §4.1). */
export function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)) (RFC 7636 §4.2). */
export async function challengeOf(verifier) {
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

/** Sends the browser to the provider's sign-in page; `returnTo` is the desk address to come back to. */
export async function signIn(config, returnTo = '') {
  const verifier = randomString(32);
  const state = randomString(16);
  sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state, returnTo }));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: config.client_id,
    redirect_uri: config.redirect_uri,
    scope: config.scope ?? 'openid',
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: 'S256',
  });
  location.assign(`${config.authorization_endpoint}?${query}`);
}

/**
 * Finishes a sign-in when the address carries the provider's answer (`?code=…&state=…` or
 * `?error=…`): takes it out of the address bar and the history, checks the state, and exchanges
 * the code with this tab's verifier. Returns null when there is nothing to finish, else the
 * token (the config's `token`: `id_token` by default); throws with the reason when it fails.
 */
export async function finishSignIn(config) {
  const answer = new URLSearchParams(location.search);
  if (!answer.has('code') && !answer.has('error')) return null;
  const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) ?? 'null');
  sessionStorage.removeItem(FLOW_KEY);
  history.replaceState(null, '', `${location.pathname}${flow?.returnTo ?? ''}`);
  if (answer.has('error')) {
    throw new Error(`the sign-in was refused: ${answer.get('error_description') ?? answer.get('error')}`);
  }
  if (!flow || answer.get('state') !== flow.state) {
    throw new Error('that sign-in answer was not asked for by this tab (state mismatch)');
  }
  const response = await fetch(config.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: answer.get('code'),
      redirect_uri: config.redirect_uri,
      client_id: config.client_id,
      code_verifier: flow.verifier,
    }),
    cache: 'no-store',
    credentials: 'omit',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`the code exchange failed: ${body.error_description ?? body.error ?? response.status}`);
  }
  const kind = config.token ?? 'id_token';
  if (typeof body[kind] !== 'string' || !body[kind]) throw new Error(`the provider sent no ${kind}`);
  return body[kind];
}

/** Where signing out ends the provider's session too (Cognito's /logout), or null. */
export function signOutUrl(config) {
  if (config.auth !== 'oidc' || !config.logout_endpoint) return null;
  return `${config.logout_endpoint}?${new URLSearchParams({ client_id: config.client_id, logout_uri: config.redirect_uri })}`;
}
