// DESK-5, the admin side, as far as the API offers it: the number's automation settings, agents
// and presence, templates (the recontact flag), campaigns with their live hopper, the cost report
// (BILL-6: per day, category and charge, predicted against reported), the rate table (BILL-6),
// integration tokens for external bots (EVT-5: create, shown once; revoke), outgoing webhooks
// (EVT-4: create, change, delete, rotate the secret, shown once; their dead letters) and the
// engine's dead letters (OPS-4: list, redeliver).

import { ApiError, call } from './api.js';
import { fill, h, say } from './dom.js';
import { amount, chargeText, when } from './format.js';
import * as live from './live.js';

const PAGES = [
  ['number', 'Number automation'],
  ['agents', 'Agents'],
  ['templates', 'Templates'],
  ['campaigns', 'Campaigns'],
  ['costs', 'Costs'],
  ['rates', 'Rates'],
  ['integrations', 'Integrations'],
  ['webhooks', 'Webhooks'],
  ['dead-letters', 'Dead letters'],
];

/** A table of `rows` by `columns` ([key or function, label]); `foot`, when given, one cell per column. */
function table(caption, columns, rows, foot = null) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map(([, label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: columns.length }, 'None yet.'))
      : rows.map((row) => h('tr', {}, columns.map(([key]) => h('td', {}, typeof key === 'function' ? key(row) : String(row[key] ?? '')))))),
    foot && rows.length ? h('tfoot', {}, h('tr', {}, foot.map((cell, i) => (i === 0 ? h('th', { scope: 'row' }, cell) : h('td', {}, cell))))) : null));
}

/** What a refusal says, with each input a 400 names that its message does not already. */
function explain(err, prefix) {
  const fields = (err instanceof ApiError ? err.fields : []).filter((f) => !err.message.includes(`${f.field}: ${f.problem}`));
  return [
    h('span', {}, `${prefix}: ${err.message}`),
    fields.length ? h('ul', {}, fields.map((f) => h('li', {}, h('code', {}, f.field), `: ${f.problem}`))) : null,
  ];
}

const pages = {
  async number(section, desk) {
    const settings = await call('settings', { number: desk.number });
    const text = h('textarea', { id: 'settings-json', rows: 18, spellcheck: 'false', class: 'code' }, JSON.stringify(settings, null, 2));
    const form = h('form', { 'aria-labelledby': 'admin-title' },
      h('p', {}, 'Welcome, unassigned reply, queue message, reminder, auto-close, CSAT, the bot recipe and the closing logic of this number (AUTO-1..12), as the API stores them.'),
      h('label', { for: 'settings-json' }, 'Settings (JSON)'), text,
      h('button', { type: 'submit' }, 'Save settings'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      let body;
      try { body = JSON.parse(text.value); } catch (err) { say(`Not JSON: ${err.message}`, 'error'); return; }
      try { await call('putSettings', { number: desk.number }, { body }); say('Settings saved.'); } catch (err) { say(`Not saved: ${err.message}`, 'error'); }
    });
    fill(section, form);
  },
  async agents(section) {
    const agents = await call('agents');
    fill(section, table('Agents, their reception limit and presence', [
      ['agent', 'Agent'],
      [(a) => `${a.open} / ${a.capacity}`, 'Open / limit'],
      [(a) => (a.online ? 'online' : 'away'), 'Presence'],
      [(a) => h('button', { type: 'button', onclick: async () => {
        try { await call('presence', { agent: a.agent }, { body: { online: !a.online } }); say(`${a.agent} is now ${a.online ? 'away' : 'online'}.`); pages.agents(section); } catch (err) { say(err.message, 'error'); }
      } }, a.online ? `Set ${a.agent} away` : `Set ${a.agent} online`), 'Change'],
    ], agents));
  },
  async templates(section, desk) {
    const templates = await call('templates', { number: desk.number });
    fill(section, table('Templates of this number', [
      ['name', 'Name'], ['language', 'Language'], ['category', 'Category'], ['status', 'Status'],
      ['body', 'Body'],
      [(t) => h('button', { type: 'button', 'aria-pressed': String(t.recontact), onclick: async () => {
        try { await call('recontact', { number: desk.number, name: t.name, language: t.language }, { body: { recontact: !t.recontact } }); pages.templates(section, desk); } catch (err) { say(err.message, 'error'); }
      } }, `Recontact: ${t.recontact ? 'yes' : 'no'}`), 'Recontact (TPL-5)'],
    ], templates));
  },
  async campaigns(section, desk) {
    const page = await call('campaigns', { number: desk.number }, { query: { limit: 100 } });
    const items = page.items ?? page;
    const hopper = (c) => {
      const hp = c.hopper ?? {};
      return Object.entries(hp).map(([k, v]) => `${k} ${v}`).join(', ');
    };
    // CAMP-10: start a draft or stopped campaign, stop a running one; If-Match: the version shown.
    const control = (c) => {
      const running = c.status === 'RUNNING';
      if (!running && !['DRAFT', 'STOPPED'].includes(c.status)) return '';
      const [operation, label] = running ? ['stopCampaign', 'Stop'] : ['startCampaign', 'Start'];
      return h('button', { type: 'button', class: running ? 'danger' : null, onclick: async (e) => {
        e.target.disabled = true;
        try {
          await call(operation, { number: desk.number, campaign: c.id }, { headers: { 'If-Match': `"${c.version}"` } });
          say(`${c.name ?? c.id}: ${running ? 'stopped' : 'started'}.`);
        } catch (err) { say(`${label} failed: ${err.message}`, 'error'); }
        await pages.campaigns(section, desk);
      } }, label, h('span', { class: 'visually-hidden' }, ` ${c.name ?? c.id}`));
    };
    fill(section, table('Campaigns and their hopper (updates live)', [
      [(c) => c.name ?? c.id, 'Campaign'], ['status', 'Status'], ['template', 'Template'], [hopper, 'Hopper'],
      [control, 'Action'],
    ], items));
  },
  costs: showCosts,
  rates: showRates,
  integrations: showIntegrations,
  webhooks: showWebhooks,
  async 'dead-letters'(section) {
    const page = await call('deadLetters', {}, { query: { limit: 100 } });
    const letters = page.dead_letters ?? [];
    const reload = () => pages['dead-letters'](section);
    const redeliver = async (operation, params, what) => {
      try {
        const done = await call(operation, params, { body: {} });
        say(`${what}: ${done.redelivered} back on ${done.redelivered === 1 ? 'its queue' : 'their queues'}.`);
      } catch (err) { say(`Not redelivered: ${err.message}`, 'error'); }
      await reload();
    };
    fill(section,
      h('p', {}, 'Messages the engine gave up on after its retries (OPS-4), with why, how often and when; never their text. Redelivering puts one back on the queue it came from, as it was.'),
      table(`Dead letters${page.more ? ' (more than listed)' : ''}`, [
        ['queue', 'Queue'], ['kind', 'Kind'], ['key', 'Key'], ['reason', 'Reason'], ['attempts', 'Attempts'],
        [(l) => stamp(l.first_seen), 'First seen'], [(l) => stamp(l.last_seen), 'Last tried'],
        [(l) => h('button', { type: 'button', onclick: () => redeliver('redeliverDeadLetter', { id: l.id }, 'Redelivered') },
          'Redeliver', h('span', { class: 'visually-hidden' }, ` ${l.key}`)), 'Action'],
      ], letters),
      letters.length ? h('p', {}, h('button', { type: 'button', onclick: () => redeliver('redeliverAllDeadLetters', {}, 'Redelivered all') }, 'Redeliver all')) : null);
  },
};

/** An RFC 3339 time from the API as a <time>, in the desk's words. */
function stamp(rfc3339) {
  if (!rfc3339) return '';
  return h('time', { datetime: rfc3339 }, when(Date.parse(rfc3339) / 1000));
}

/** A comma- or space-separated list as the API wants it. */
function words(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** BILL-6: the cost report, one line per day, category and charge, predicted against reported. */
async function showCosts(section, desk) {
  const from = h('input', { id: 'costs-from', name: 'from', type: 'date', required: true });
  const to = h('input', { id: 'costs-to', name: 'to', type: 'date', required: true });
  const error = h('div', { class: 'error', id: 'costs-error', role: 'alert' });
  const report = h('div', { class: 'cost-report' }, h('p', {}, 'Loading…'));
  const submit = h('button', { type: 'submit' }, 'Show costs');
  const form = h('form', { class: 'range', 'aria-label': 'Days of the cost report' },
    h('p', { class: 'field' }, h('label', { for: 'costs-from' }, 'From (UTC)'), from),
    h('p', { class: 'field' }, h('label', { for: 'costs-to' }, 'To, inclusive'), to),
    h('p', { class: 'buttons' }, submit));

  // Without dates the console picks the last 30 days by its own clock (the engine's, not this
  // browser's); the fields then show the range it chose.
  const load = async (query) => {
    const r = await call('costs', { number: desk.number }, { query });
    from.value = r.from;
    to.value = r.to;
    const unit = r.currency ? ` (${r.currency})` : '';
    const t = r.total ?? {};
    fill(report,
      r.currency ? null : h('p', { class: 'note' }, 'No rate table is set: messages are counted, but priced at 0. ',
        h('a', { href: '#/admin/rates' }, 'Set the rates'), '.'),
      table(`Costs from ${r.from} to ${r.to}${r.currency ? `, in ${r.currency}` : ''}`, [
        [(l) => h('time', { datetime: l.day, class: 'day' }, l.day), 'Day'], ['category', 'Category'], [(l) => chargeText(l.charge), 'Charge'],
        ['predicted_count', 'Predicted messages'], [(l) => amount(l.predicted_micros), `Predicted amount${unit}`],
        ['reported_count', 'Reported by Meta'], [(l) => amount(l.reported_micros), `Reported amount${unit}`],
      ], r.lines ?? [],
      ['Total', '', '', String(t.predicted_count ?? 0), amount(t.predicted_micros), String(t.reported_count ?? 0), amount(t.reported_micros)]));
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    submit.disabled = true;
    try { await load({ from: from.value, to: to.value }); } catch (err) { fill(error, explain(err, 'Cannot show the report')); } finally { submit.disabled = false; }
  });
  fill(section,
    h('p', {}, 'What the engine predicted when it sent each message, against what Meta reported in its delivery statuses, per day (UTC), pricing category and charge: charged, or free and why (BILL-6). A prediction and Meta’s report of one message count on the lines of their own charge, so a line where they disagree shows it.'),
    form, error, report);
  await load({});
}

/** BILL-6: the rate table, shown, and replaced whole (admin). */
async function showRates(section) {
  let current = null;
  try {
    current = await call('rates');
  } catch (err) {
    // 404: none set yet, which the page says.
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const market = (m) => (m === '*' ? 'every other market (*)' : `+${m}`);
  const text = h('textarea', { id: 'rates-json', name: 'rates', rows: 16, spellcheck: 'false', class: 'code', 'aria-describedby': 'rates-json-hint' },
    JSON.stringify(current ?? { currency: 'USD', source: 'where the prices come from, and as of when', rates: [] }, null, 2));
  const error = h('div', { class: 'error', id: 'rates-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Replace the rate table');
  const form = h('form', { 'aria-label': 'Replace the rate table' },
    h('label', { for: 'rates-json' }, 'Rate table (JSON)'), text,
    h('p', { class: 'hint', id: 'rates-json-hint' },
      'currency: an ISO 4217 code; source: where the prices come from; rates: entries like ',
      h('code', {}, '{"category": "marketing", "market": "49", "effective_from": "2025-07-01", "micros": 136500}'),
      ' (market: the recipient’s country calling code, or * for every other; micros: millionths of the currency, 0.1365 is 136500). Saving replaces the whole table; predictions and Meta’s reports from then on are priced by it.'),
    error, h('p', { class: 'buttons' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    let body;
    try { body = JSON.parse(text.value); } catch (err) { fill(error, `Not JSON: ${err.message}`); return; }
    submit.disabled = true;
    try {
      const saved = await call('putRates', {}, { body });
      say(`Rate table replaced: ${saved.rates.length} ${saved.rates.length === 1 ? 'entry' : 'entries'} in ${saved.currency}.`);
      await showRates(section);
    } catch (err) {
      fill(error, explain(err, 'Not saved'));
      submit.disabled = false;
    }
  });
  fill(section,
    h('p', {}, 'Meta’s API returns no prices: the cost report is priced by this table, per pricing category and recipient market, each price from its effective date (BILL-6).'),
    current
      ? [current.source ? h('p', { class: 'hint' }, `Source: ${current.source}`) : null,
        table(`Rates in ${current.currency}`, [
          ['category', 'Category'], [(r) => market(r.market), 'Market'], ['effective_from', 'Effective from'],
          [(r) => `${amount(r.micros)} ${current.currency}`, 'Price per charged message'],
        ], current.rates)]
      : h('p', { class: 'note' }, 'No rate table is set: messages are counted, but priced at 0.'),
    form);
}

/** EVT-5: integration tokens for external bots: the list, create (the token shown once), revoke. */
async function showIntegrations(section, desk) {
  const secretBox = h('div', { class: 'secret', id: 'integration-secret', tabindex: '-1', hidden: true });
  const list = h('div', {}, h('p', {}, 'Loading…'));
  const error = h('div', { class: 'error', id: 'integration-error', role: 'alert' });
  const name = h('input', { id: 'integration-name', name: 'name', type: 'text', required: true, maxlength: 100 });
  const numbers = h('input', { id: 'integration-numbers', name: 'numbers', type: 'text', inputmode: 'numeric', required: true,
    value: desk.number ?? '', 'aria-describedby': 'integration-numbers-hint' });
  const submit = h('button', { type: 'submit' }, 'Create token');
  const form = h('form', { class: 'integration-form', 'aria-label': 'Create an integration token' },
    h('fieldset', {}, h('legend', {}, 'Create an integration token'),
      h('p', { class: 'field' }, h('label', { for: 'integration-name' }, 'Name'), name),
      h('p', { class: 'field' }, h('label', { for: 'integration-numbers' }, 'Business numbers'), numbers,
        h('span', { class: 'hint', id: 'integration-numbers-hint' }, 'Phone number ids it may act on, separated by spaces or commas; at least one.')),
      error, h('p', { class: 'buttons' }, submit)));

  // The token is in the answer to the create only: shown here once, never stored.
  const showToken = (created) => {
    const value = h('input', { id: 'integration-token-value', type: 'text', readonly: true, class: 'code', value: created.token, spellcheck: 'false' });
    fill(secretBox,
      h('h2', {}, `Created: the token of ${created.name}`),
      h('p', {}, 'Give it to the integration now: it is shown only this once (revoke it and create another if it is lost). It goes in the Authorization header: Bearer and the token.'),
      h('label', { for: 'integration-token-value' }, 'Integration token'), value,
      h('p', {}, h('button', { type: 'button', onclick: () => { secretBox.hidden = true; secretBox.replaceChildren(); } }, 'I have copied it')));
    secretBox.hidden = false;
    value.addEventListener('focus', () => value.select());
    secretBox.focus();
  };

  const revoke = (t) => {
    if (t.revoked_at) return '';
    const cell = h('span', { class: 'row-actions' });
    const hidden = h('span', { class: 'visually-hidden' }, ` ${t.name}`);
    const normal = () => fill(cell, h('button', { type: 'button', class: 'danger', onclick: confirm }, 'Revoke', hidden.cloneNode(true)));
    const confirm = () => {
      const yes = h('button', { type: 'button', class: 'danger', onclick: async () => {
        try { await call('revokeIntegration', { integration: t.id }); say(`Revoked the token of ${t.name}.`); await refresh(); } catch (err) { say(`Not revoked: ${err.message}`, 'error'); }
      } }, 'Yes, revoke', hidden.cloneNode(true));
      fill(cell, 'It stops working at once. ', yes, ' ', h('button', { type: 'button', onclick: normal }, 'Keep it'));
      yes.focus();
    };
    normal();
    return cell;
  };

  const refresh = async () => {
    const tokens = await call('integrations');
    fill(list, table('Integration tokens (the bots and systems that act through the API)', [
      ['name', 'Name'],
      [(t) => t.numbers.join(', '), 'Numbers'],
      [(t) => when(t.created_at), 'Created'],
      [(t) => (t.revoked_at ? `revoked ${when(t.revoked_at)}` : 'works'), 'Status'],
      [revoke, 'Action'],
    ], tokens));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    submit.disabled = true;
    try {
      showToken(await call('createIntegration', {}, { body: { name: name.value.trim(), numbers: words(numbers.value) } }));
      name.value = '';
      await refresh();
    } catch (err) {
      fill(error, explain(err, 'Not created'));
    } finally {
      submit.disabled = false;
    }
  });

  fill(section,
    h('p', {}, 'An external bot (EVT-5) works through the API with one of these tokens: it reads its numbers’ contacts and logs, and answers, hands off or completes the conversations its number’s bot handles.'),
    secretBox, list, form);
  await refresh();
}

/** EVT-4's endpoints: the list, a form to add or change one, the secret shown once, dead letters. */
async function showWebhooks(section) {
  const secretBox = h('div', { class: 'secret', id: 'webhook-secret', tabindex: '-1', hidden: true });
  const list = h('div', {}, h('p', {}, 'Loading…'));
  const dead = h('div', { class: 'webhook-dead' });
  const error = h('p', { class: 'error', id: 'webhook-error', role: 'alert' });
  const field = (id, label, attrs = {}, hint = '') => {
    const input = h('input', { id, name: id, type: 'text', ...attrs });
    return [input, h('p', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null)];
  };
  const [url, urlRow] = field('webhook-url', 'Endpoint URL', { type: 'url', required: true, placeholder: 'https://example.com/switchboard', 'aria-describedby': 'webhook-url-hint' },
    'https:// to a public address (http://127.0.0.1 on a local runner).');
  const [types, typesRow] = field('webhook-types', 'Event types', { placeholder: 'message.received conversation.closed', 'aria-describedby': 'webhook-types-hint' },
    'Separated by spaces or commas; empty: every type.');
  const [numbers, numbersRow] = field('webhook-numbers', 'Business numbers', { inputmode: 'numeric', 'aria-describedby': 'webhook-numbers-hint' },
    'Phone number ids; empty: every number.');
  const [description, descriptionRow] = field('webhook-description', 'Description', { maxlength: 500 });
  const legend = h('legend', {}, 'Add a webhook');
  const submit = h('button', { type: 'submit' }, 'Add webhook');
  const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
  const form = h('form', { class: 'webhook-form', 'aria-label': 'Add or change a webhook' },
    h('fieldset', {}, legend, urlRow, typesRow, numbersRow, descriptionRow, error,
      h('p', { class: 'buttons' }, submit, ' ', cancel)));
  let editing = null;

  const edit = (w) => {
    editing = w;
    legend.textContent = w ? `Change ${w.url}` : 'Add a webhook';
    submit.textContent = w ? 'Save webhook' : 'Add webhook';
    cancel.hidden = !w;
    url.value = w?.url ?? '';
    types.value = (w?.types ?? []).join(' ');
    numbers.value = (w?.numbers ?? []).join(' ');
    description.value = w?.description ?? '';
    error.textContent = '';
    if (w) url.focus();
  };
  cancel.addEventListener('click', () => edit(null));

  // The secret is in the answer to a create or a rotate only: shown here once, never stored.
  const showSecret = (created, what) => {
    const value = h('input', { id: 'webhook-secret-value', type: 'text', readonly: true, class: 'code', value: created.secret, spellcheck: 'false' });
    const grace = created.previous_secret_until
      ? ` The previous secret keeps signing beside it until ${when(created.previous_secret_until)}.` : '';
    fill(secretBox,
      h('h2', { id: 'webhook-secret-title' }, `${what}: the secret of ${created.url}`),
      h('p', {}, `Copy it into your receiver now: it is shown only this once (rotate to get a new one).${grace}`),
      h('label', { for: 'webhook-secret-value' }, 'Signing secret (Standard Webhooks)'), value,
      h('p', {}, h('button', { type: 'button', onclick: () => { secretBox.hidden = true; secretBox.replaceChildren(); } }, 'I have copied it')));
    secretBox.hidden = false;
    value.addEventListener('focus', () => value.select());
    secretBox.focus();
  };

  const showDead = async (w) => {
    const reloadDead = () => showDead(w);
    const letters = await call('webhookDeadLetters', { webhook: w.id }, { query: { limit: 100 } });
    const redeliver = async (body) => {
      try {
        const done = await call('redeliverWebhook', { webhook: w.id }, { body });
        say(`${done.queued} ${done.queued === 1 ? 'delivery' : 'deliveries'} queued again.`);
      } catch (err) { say(`Not redelivered: ${err.message}`, 'error'); }
      await reloadDead();
    };
    fill(dead,
      table(`Dead letters of ${w.url}`, [
        ['event_id', 'Event'], ['event_type', 'Type'], ['attempts', 'Attempts'],
        [(l) => (l.first_attempt_at ? when(l.first_attempt_at) : ''), 'First attempt'], ['last_error', 'Last failure'],
        [(l) => h('button', { type: 'button', onclick: () => redeliver({ event_id: l.event_id }) }, 'Redeliver', h('span', { class: 'visually-hidden' }, ` ${l.event_id}`)), 'Action'],
      ], letters),
      letters.length ? h('p', {}, h('button', { type: 'button', onclick: () => redeliver({}) }, `Redeliver all to ${w.url}`)) : null);
  };

  const actions = (w) => {
    const cell = h('span', { class: 'row-actions' });
    const hidden = (text) => h('span', { class: 'visually-hidden' }, ` ${text}`);
    const normal = () => fill(cell,
      h('button', { type: 'button', onclick: () => edit(w) }, 'Edit', hidden(w.url)), ' ',
      h('button', { type: 'button', onclick: async () => {
        try { showSecret(await call('rotateWebhook', { webhook: w.id }, { body: {} }), 'Rotated'); await refresh(); } catch (err) { say(`Not rotated: ${err.message}`, 'error'); }
      } }, 'Rotate secret', hidden(w.url)), ' ',
      h('button', { type: 'button', onclick: () => showDead(w).catch((err) => say(err.message, 'error')) }, 'Dead letters', hidden(w.url)), ' ',
      h('button', { type: 'button', class: 'danger', onclick: confirm }, 'Delete', hidden(w.url)));
    const confirm = () => {
      const yes = h('button', { type: 'button', class: 'danger', onclick: async () => {
        try { await call('deleteWebhook', { webhook: w.id }); say(`Deleted the webhook to ${w.url}.`); if (editing?.id === w.id) edit(null); dead.replaceChildren(); await refresh(); } catch (err) { say(`Not deleted: ${err.message}`, 'error'); }
      } }, 'Yes, delete', hidden(w.url));
      fill(cell, `Delete it with its queued deliveries? `, yes, ' ', h('button', { type: 'button', onclick: normal }, 'Keep it'));
      yes.focus();
    };
    normal();
    return cell;
  };

  const refresh = async () => {
    const hooks = await call('webhooks');
    fill(list, table('Endpoints that receive the events (signed as Standard Webhooks say)', [
      ['url', 'URL'],
      [(w) => (w.types.length ? w.types.join(', ') : 'every type'), 'Events'],
      [(w) => (w.numbers.length ? w.numbers.join(', ') : 'every number'), 'Numbers'],
      [(w) => w.description ?? '', 'Description'],
      [(w) => (w.previous_secret_until ? `rotated; the old one signs until ${when(w.previous_secret_until)}` : 'one'), 'Secrets'],
      [actions, 'Actions'],
    ], hooks));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { url: url.value.trim(), types: words(types.value), numbers: words(numbers.value) };
    if (description.value.trim()) body.description = description.value.trim();
    submit.disabled = true;
    try {
      if (editing) {
        await call('putWebhook', { webhook: editing.id }, { body });
        say(`Saved the webhook to ${body.url}.`);
      } else {
        showSecret(await call('createWebhook', {}, { body }), 'Added');
      }
      edit(null);
      await refresh();
    } catch (err) {
      error.textContent = `Not saved: ${err.message}`;
    } finally {
      submit.disabled = false;
    }
  });

  fill(section, secretBox, list, dead, form);
  await refresh();
}

export function showAdmin(main, desk, name) {
  const page = pages[name] ? name : 'number';
  const section = h('section', { class: 'admin-page', 'aria-labelledby': 'admin-title' }, h('p', {}, 'Loading…'));
  fill(main,
    h('div', { class: 'admin' },
      h('h1', { id: 'admin-title' }, PAGES.find(([p]) => p === page)[1]),
      h('nav', { 'aria-label': 'Admin pages', class: 'tabs' }, h('ul', {}, PAGES.map(([p, label]) =>
        h('li', {}, h('a', { href: `#/admin/${p}`, 'aria-current': p === page ? 'page' : false }, label))))),
      section));
  const load = () => pages[page](section, desk).catch((e) => fill(section, h('p', { class: 'error' }, `Cannot load: ${e.message}`)));
  load();
  // The hopper moves while a campaign runs.
  const unsubscribe = page === 'campaigns' ? live.subscribe(load) : () => {};
  return () => unsubscribe();
}
