// The one client of the console's /v1 API. Paths and bodies follow /v1/openapi.json (the browser
// tests check that every path used here is in the document). The bearer token lives in
// sessionStorage and goes in the Authorization header, never in a URL.

const TOKEN_KEY = 'switchboard.token';

// Where the API is: this origin (switchboard serve), or the stack's API (config.json's `api`).
let base = '';

/** Sets the API's origin (no trailing slash); '' is this page's own. */
export function setApiBase(url) {
  base = (url ?? '').replace(/\/+$/, '');
}

/** The full URL of an API path (`/v1/…`). */
export function apiUrl(path) {
  return base + path;
}

export class ApiError extends Error {
  /** `fields`: the inputs a 400 names, `[{field, problem}]` (the API's error body). */
  constructor(status, code, message, fields = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** Every operation the desk uses, by name: [method, path template]. */
export const OPERATIONS = {
  me: ['GET', '/v1/me'],
  agents: ['GET', '/v1/agents'],
  putAgent: ['PUT', '/v1/agents/{agent}'],
  presence: ['PUT', '/v1/agents/{agent}/presence'],
  settings: ['GET', '/v1/numbers/{number}/settings'],
  putSettings: ['PUT', '/v1/numbers/{number}/settings'],
  limits: ['GET', '/v1/numbers/{number}/limits'],
  conversations: ['GET', '/v1/numbers/{number}/conversations'],
  contact: ['GET', '/v1/numbers/{number}/contacts/{contact}'],
  window: ['GET', '/v1/numbers/{number}/contacts/{contact}/window'],
  log: ['GET', '/v1/numbers/{number}/contacts/{contact}/messages'],
  send: ['POST', '/v1/numbers/{number}/contacts/{contact}/messages'],
  declareUpload: ['POST', '/v1/numbers/{number}/contacts/{contact}/media/uploads'],
  sendUpload: ['POST', '/v1/numbers/{number}/contacts/{contact}/media/uploads/{upload}/send'],
  claim: ['POST', '/v1/numbers/{number}/contacts/{contact}/claim'],
  transfer: ['POST', '/v1/numbers/{number}/contacts/{contact}/transfer'],
  close: ['POST', '/v1/numbers/{number}/contacts/{contact}/close'],
  snooze: ['POST', '/v1/numbers/{number}/contacts/{contact}/snooze'],
  templates: ['GET', '/v1/numbers/{number}/templates'],
  recontact: ['PUT', '/v1/numbers/{number}/templates/{name}/{language}/recontact'],
  campaigns: ['GET', '/v1/numbers/{number}/campaigns'],
  campaign: ['GET', '/v1/numbers/{number}/campaigns/{campaign}'],
  startCampaign: ['POST', '/v1/numbers/{number}/campaigns/{campaign}/start'],
  stopCampaign: ['POST', '/v1/numbers/{number}/campaigns/{campaign}/stop'],
  costs: ['GET', '/v1/numbers/{number}/costs'],
  rates: ['GET', '/v1/rates'],
  putRates: ['PUT', '/v1/rates'],
  integrations: ['GET', '/v1/integrations'],
  createIntegration: ['POST', '/v1/integrations'],
  revokeIntegration: ['DELETE', '/v1/integrations/{integration}'],
  webhooks: ['GET', '/v1/webhooks'],
  createWebhook: ['POST', '/v1/webhooks'],
  putWebhook: ['PUT', '/v1/webhooks/{webhook}'],
  deleteWebhook: ['DELETE', '/v1/webhooks/{webhook}'],
  rotateWebhook: ['POST', '/v1/webhooks/{webhook}/rotate'],
  webhookDeadLetters: ['GET', '/v1/webhooks/{webhook}/dead-letters'],
  redeliverWebhook: ['POST', '/v1/webhooks/{webhook}/dead-letters/redeliver'],
  deadLetters: ['GET', '/v1/dead-letters'],
  redeliverDeadLetter: ['POST', '/v1/dead-letters/{id}/redeliver'],
  redeliverAllDeadLetters: ['POST', '/v1/dead-letters/redeliver-all'],
};

function path(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    if (params[name] === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(params[name]);
  });
}

/**
 * Calls one operation: `call('log', {number, contact}, {query: {limit: 50}})`,
 * `call('send', {number, contact}, {body: {text}})`.
 */
export async function call(operation, params = {}, { query, body, signal, headers: extra } = {}) {
  const [method, template] = OPERATIONS[operation] ?? [];
  if (!method) throw new Error(`unknown operation ${operation}`);
  let url = path(template, params);
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    if ([...q].length) url += `?${q}`;
  }
  const headers = { Accept: 'application/json', ...extra };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(apiUrl(url), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? 'error', data?.message ?? `${response.status} ${response.statusText}`,
      Array.isArray(data?.fields) ? data.fields : []);
  }
  return data;
}

/**
 * MEDIA-3: sends a file to the contact in two steps, whatever its size: declares it (Meta's limits
 * are checked at once), PUTs its bytes to the link the console answers (S3's presigned URL on AWS,
 * where a request through the API is at most 6 MB; the console's own signed route locally), then
 * sends it. No bearer token goes to the link: the link is the grant.
 */
export async function sendFile({ number, contact }, file, caption) {
  const body = { type: file.type || 'application/octet-stream', size: file.size, filename: file.name };
  if (caption) body.caption = caption;
  const ticket = await call('declareUpload', { number, contact }, { body });
  const headers = {};
  for (const [name, value] of Object.entries(ticket.headers ?? {})) {
    // The browser sets Content-Length (and Host) itself, from the file.
    if (!['content-length', 'host'].includes(name.toLowerCase())) headers[name] = value;
  }
  const url = ticket.url.startsWith('/') ? apiUrl(ticket.url) : ticket.url;
  const put = await fetch(url, { method: ticket.method ?? 'PUT', headers, body: file, cache: 'no-store' });
  if (!put.ok) {
    let data = null;
    try { data = await put.json(); } catch { data = null; }
    throw new ApiError(put.status, data?.error ?? 'upload_failed', data?.message ?? `the upload failed (${put.status})`);
  }
  return call('sendUpload', { number, contact, upload: ticket.upload }, {});
}
