// DESK-2: the inbox. Mine / All × Open / Snoozed / Closed, search by name, email or phone (seed 001),
// the queue's length on top with its conversations to claim (seed 004), updating live.

import { call } from './api.js';
import { fill, h, say, uid } from './dom.js';
import { bodyText, contactName, span, when } from './format.js';
import * as live from './live.js';

const SCOPES = [['mine', 'Mine'], ['all', 'All']];
const STATUSES = [['open', 'Open'], ['snoozed', 'Snoozed'], ['closed', 'Closed']];
const QUEUE_PAGE = 100;

/** The row every conversation is cloned from (cloning is several times faster than building). */
let rowTemplate = null;
function template() {
  if (!rowTemplate) {
    rowTemplate = h('li', { class: 'conv' },
      h('a', {},
        h('span', { class: 'conv-name' }),
        h('span', { class: 'badge' }),
        h('span', { class: 'conv-time' }),
        h('span', { class: 'conv-preview' }),
        h('span', { class: 'conv-meta' })));
  }
  return rowTemplate;
}

/** One conversation of the list, as a link to it. */
function row(item, now) {
  const li = template().cloneNode(true);
  li.dataset.contact = item.contact;
  const a = li.firstChild;
  a.href = `#/c/${encodeURIComponent(item.number)}/${encodeURIComponent(item.contact)}`;
  const [name, badge, time, preview, meta] = a.children;
  name.textContent = contactName(item.profile, item.contact);
  if (item.unread > 0) {
    badge.textContent = String(item.unread);
    badge.setAttribute('aria-label', `${item.unread} unread`);
  } else {
    badge.remove();
  }
  time.textContent = when(item.last_message?.at ?? item.updated_at, now);
  const text = item.last_message ? bodyText(item.last_message.body) : '';
  preview.textContent = text ? `${item.last_message.kind === 'outbound' ? 'You: ' : ''}${text}` : 'No messages yet';
  const waiting = item.waiting_since ? `waiting ${span(now - item.waiting_since)}` : '';
  meta.textContent = [item.assignee ? `@${item.assignee}` : 'unassigned', item.status, waiting].filter(Boolean).join(' · ');
  return li;
}

/** Renders `items` into the list `ul` (the benchmark calls this with 1,000 conversations). */
export function renderList(ul, items, now = Date.now() / 1000) {
  const fragment = document.createDocumentFragment();
  for (const item of items) fragment.append(row(item, now));
  ul.replaceChildren(fragment);
}

function segmented(legend, name, options, current, onchange) {
  const id = uid(name);
  return h('fieldset', { class: 'segmented' },
    h('legend', {}, legend),
    options.map(([value, label]) => {
      const input = h('input', { type: 'radio', name: id, id: `${id}-${value}`, value, checked: value === current, onchange: () => onchange(value) });
      return h('span', {}, input, h('label', { for: `${id}-${value}` }, label));
    }));
}

export function showInbox(main, desk, params) {
  const number = desk.number;
  const state = {
    scope: params.get('scope') ?? 'mine',
    status: params.get('status') ?? 'open',
    q: params.get('q') ?? '',
    showQueue: params.get('queue') === '1',
  };
  const go = (changes) => {
    const next = { ...state, ...changes };
    const q = new URLSearchParams({ scope: next.scope, status: next.status });
    if (next.q) q.set('q', next.q);
    if (next.showQueue) q.set('queue', '1');
    location.hash = `#/inbox?${q}`;
  };

  const list = h('ul', { class: 'conversations', 'aria-labelledby': 'list-title', 'aria-busy': 'true' });
  const listTitle = h('h2', { id: 'list-title', class: 'visually-hidden' }, 'Conversations');
  const empty = h('p', { class: 'empty', hidden: true }, 'No conversations here.');
  const queueButton = h('button', { type: 'button', class: 'queue-count', 'aria-expanded': String(state.showQueue), 'aria-controls': 'queue-list' }, 'Queue');
  const queueList = h('ul', { id: 'queue-list', class: 'queue', hidden: !state.showQueue, 'aria-label': 'In queue' });
  queueButton.addEventListener('click', () => go({ showQueue: !state.showQueue }));
  const search = h('input', { type: 'search', id: 'inbox-search', name: 'q', value: state.q, placeholder: 'Name, email or phone', autocomplete: 'off' });
  const searchForm = h('form', { role: 'search', class: 'search', 'aria-label': 'Search contacts' },
    h('label', { for: 'inbox-search' }, 'Search'),
    search,
    h('button', { type: 'submit' }, 'Search'));
  searchForm.addEventListener('submit', (e) => { e.preventDefault(); go({ q: search.value.trim() }); });

  const numberPicker = desk.me.numbers.length > 1
    ? h('p', {}, h('label', { for: 'number-pick' }, 'Number '),
      h('select', { id: 'number-pick', onchange: (e) => { sessionStorage.setItem('switchboard.number', e.target.value); desk.number = e.target.value; go({}); } },
        desk.me.numbers.map((n) => h('option', { value: n, selected: n === number }, n))))
    : null;

  fill(main,
    h('div', { class: 'inbox' },
      h('div', { class: 'inbox-head' },
        h('h1', {}, 'Inbox'),
        numberPicker,
        h('section', { class: 'queue-box', 'aria-label': 'Queue' }, queueButton, queueList)),
      h('div', { class: 'filters' },
        segmented('Whose', 'scope', SCOPES, state.scope, (v) => go({ scope: v })),
        segmented('Status', 'status', STATUSES, state.status, (v) => go({ status: v })),
        searchForm),
      listTitle, list, empty));

  let lastList = '';
  let lastQueue = '';
  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const now = await serverNow();
      const [page, queue] = await Promise.all([
        call('conversations', { number }, { query: { scope: state.scope, status: state.status, q: state.q, limit: 100 } }),
        call('conversations', { number }, { query: { scope: 'queue', limit: QUEUE_PAGE } }),
      ]);
      const listJson = JSON.stringify(page.items);
      if (listJson !== lastList) {
        lastList = listJson;
        renderList(list, page.items, now);
        empty.hidden = page.items.length > 0;
      }
      list.setAttribute('aria-busy', 'false');
      const queueJson = JSON.stringify(queue.items);
      if (queueJson !== lastQueue) {
        lastQueue = queueJson;
        const n = queue.items.length;
        queueButton.textContent = `${n >= QUEUE_PAGE ? `${QUEUE_PAGE}+` : n} ${n === 1 ? 'person' : 'people'} in queue`;
        fill(queueList, queue.items.length === 0 ? h('li', {}, 'Nobody is waiting.') : queue.items.map((item) =>
          h('li', { class: 'queued' },
            h('a', { href: `#/c/${encodeURIComponent(number)}/${encodeURIComponent(item.contact)}` },
              `${item.queue_position}. ${contactName(item.profile, item.contact)}`),
            item.waiting_since ? h('span', { class: 'conv-meta' }, ` waiting ${span(now - item.waiting_since)}`) : null,
            h('button', { type: 'button', onclick: () => claim(item) }, `Claim ${contactName(item.profile, item.contact)}`))));
      }
    } finally {
      busy = false;
    }
  }

  async function claim(item) {
    try {
      await call('claim', { number, contact: item.contact }, { body: {} });
      say(`Claimed ${contactName(item.profile, item.contact)}.`);
      location.hash = `#/c/${encodeURIComponent(number)}/${encodeURIComponent(item.contact)}`;
    } catch (e) {
      say(`Could not claim: ${e.message}`, 'error');
    }
  }

  refresh();
  const unsubscribe = live.subscribe(() => refresh());
  return () => unsubscribe();
}

let testClock = true;
/** The engine's time when the test clock is on (so "waiting 5 min" is what the engine says), else this machine's. */
export async function serverNow() {
  if (testClock) {
    try {
      const r = await fetch('/dev/clock', { cache: 'no-store' });
      if (r.ok) return (await r.json()).now;
      testClock = false;
    } catch { testClock = false; }
  }
  return Date.now() / 1000;
}
