// DESK-5, the admin side, as far as the API offers it: the number's automation settings, agents
// and presence, templates (the recontact flag), campaigns with their live hopper, the cost report.

import { call } from './api.js';
import { fill, h, say } from './dom.js';
import * as live from './live.js';

const PAGES = [
  ['number', 'Number automation'],
  ['agents', 'Agents'],
  ['templates', 'Templates'],
  ['campaigns', 'Campaigns'],
  ['costs', 'Costs'],
];

function table(caption, columns, rows) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map(([, label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: columns.length }, 'None yet.'))
      : rows.map((row) => h('tr', {}, columns.map(([key]) => h('td', {}, typeof key === 'function' ? key(row) : String(row[key] ?? ''))))))));
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
    fill(section, table('Campaigns and their hopper (updates live)', [
      [(c) => c.name ?? c.id, 'Campaign'], ['status', 'Status'], ['template', 'Template'], [hopper, 'Hopper'],
    ], items));
  },
  async costs(section, desk) {
    const to = new Date();
    const from = new Date(to.getTime() - 30 * 86400 * 1000);
    const day = (d) => d.toISOString().slice(0, 10);
    const report = await call('costs', { number: desk.number }, { query: { from: day(from), to: day(to) } });
    const rows = Object.entries(report.categories ?? {}).map(([category, f]) => ({ category, ...f }));
    const money = (m) => (m / 1e6).toFixed(4);
    fill(section, table(`Costs from ${report.from} to ${report.to}`, [
      ['category', 'Category'], ['predicted_count', 'Predicted messages'], [(r) => money(r.predicted_micros), 'Predicted (USD)'],
      ['reported_count', 'Reported by Meta'], [(r) => money(r.reported_micros), 'Reported (USD)'],
    ], rows));
  },
};

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
