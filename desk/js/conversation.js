// DESK-3 and DESK-5: one conversation. The log with delivery states and notices (expired or
// active outreach pressed with the pressed message, CSAT answers, refusals with their reasons, the
// referral), updating live; the composer (composer.js); claim, transfer, snooze, close, and
// reopen by sending (CHAN-2).

import { call } from './api.js';
import { fill, h, say } from './dom.js';
import { bodyText, contactName, noticeText, templateText, when } from './format.js';
import { composerKey, renderComposer } from './composer.js';
import { serverNow } from './inbox.js';
import * as live from './live.js';

const LOG_PAGE = 100;
const DELIVERY = { queued: 'Queued', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Failed' };

function logEntry(item, now, templates) {
  const time = h('time', { datetime: new Date(item.at * 1000).toISOString() }, when(item.at, now));
  if (item.kind === 'notice') {
    const { title, detail, tone } = noticeText(item.notice);
    return h('li', { class: `notice ${tone}`, dataset: { notice: item.notice?.notice ?? '' } },
      h('strong', {}, title), detail ? ` ${detail}` : '', ' ', time);
  }
  const inbound = item.kind === 'inbound';
  const text = item.body ? bodyText(item.body) : (inbound ? 'A message' : 'A message from the business');
  const shown = templateText(item.body, templates);
  const delivery = item.delivery;
  return h('li', { class: `msg ${inbound ? 'in' : 'out'}`, dataset: { kind: item.kind } },
    h('span', { class: 'visually-hidden' }, inbound ? 'Customer: ' : 'Business: '),
    h('p', { class: 'text' }, text),
    shown ? h('p', { class: 'template-text' }, shown) : null,
    h('p', { class: 'msg-meta' }, time,
      delivery ? h('span', { class: `delivery ${delivery.status}`, dataset: { delivery: delivery.status } },
        ` · ${DELIVERY[delivery.status] ?? delivery.status}${delivery.error ? `: ${delivery.error}` : ''}`) : null));
}

export function showConversation(main, desk, number, contact) {
  const title = h('h1', { id: 'conv-title' }, contactName({}, contact));
  const facts = h('p', { class: 'facts' });
  const referral = h('p', { class: 'referral', hidden: true });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Conversation actions' });
  const log = h('ol', { class: 'log', 'aria-label': 'Messages', tabindex: '0' });
  const composer = h('section', { class: 'composer', 'aria-labelledby': 'composer-title' });
  fill(main,
    h('article', { class: 'conversation', 'aria-labelledby': 'conv-title' },
      h('header', { class: 'conv-head' },
        h('p', {}, h('a', { href: '#/inbox', class: 'back' }, '← Inbox')),
        title, facts, referral, actions),
      log, composer));

  let templates = null;
  let agents = null;
  let lastLog = '';
  let lastComposer = '';
  let lastActions = '';
  let busy = false;
  let gone = false;

  async function refresh() {
    if (busy || gone) return;
    busy = true;
    try {
      const now = await serverNow();
      const [detail, page] = await Promise.all([
        call('contact', { number, contact }),
        call('log', { number, contact }, { query: { limit: LOG_PAGE } }),
      ]);
      templates ??= await call('templates', { number }).catch(() => []);
      if (gone) return;
      const name = contactName(detail.profile, contact);
      title.textContent = name;
      document.title = `${name} · Switchboard desk`;
      const conv = detail.conversation;
      const handler = conv ? (conv.handler === 'agent' ? `handled by ${conv.agent}` : conv.handler === 'bot' ? 'with the bot' : `waiting in the queue${conv.queue_position ? ` (position ${conv.queue_position})` : ''}`) : '';
      facts.textContent = [`+${contact}`, detail.status, handler, conv?.snoozed_until ? `until ${when(conv.snoozed_until, now)}` : ''].filter(Boolean).join(' · ');
      if (conv?.referral) {
        referral.hidden = false;
        referral.textContent = `Came from a ${conv.referral.source_type}${conv.referral.source_id ? ` (${conv.referral.source_id})` : ''}: free entry point window.`;
      } else {
        referral.hidden = true;
      }
      const actionsKey = JSON.stringify([detail.status, conv?.handler, conv?.agent]);
      if (actionsKey !== lastActions) {
        lastActions = actionsKey;
        await renderActions(detail);
      }
      const logJson = JSON.stringify(page.items);
      if (logJson !== lastLog) {
        lastLog = logJson;
        const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
        const fragment = document.createDocumentFragment();
        for (const item of [...page.items].reverse()) fragment.append(logEntry(item, now, templates));
        log.replaceChildren(fragment);
        if (atBottom || !lastLog) log.scrollTop = log.scrollHeight;
      }
      const key = composerKey(detail.window, detail.status) + templates.length;
      if (key !== lastComposer) {
        lastComposer = key;
        renderComposer(composer, { number, contact, window: detail.window, status: detail.status, templates, now, sent: refresh });
      }
    } catch (e) {
      if (e.status === 404) fill(main, h('h1', {}, 'No such contact'), h('p', {}, h('a', { href: '#/inbox' }, 'Back to the inbox')));
      else throw e;
    } finally {
      busy = false;
    }
  }

  async function act(operation, body, done) {
    try {
      await call(operation, { number, contact }, { body });
      say(done);
      setTimeout(refresh, 300);
    } catch (e) {
      say(`${done.replace(/\.$/, '')} failed: ${e.message}`, 'error');
    }
  }

  async function renderActions(detail) {
    const conv = detail.conversation;
    const buttons = [];
    if (conv && conv.handler !== 'agent') {
      buttons.push(h('button', { type: 'button', onclick: () => act('claim', {}, 'Claimed.') }, 'Claim'));
    }
    if (conv) {
      agents ??= await call('agents').catch(() => []);
      const others = agents.filter((a) => a.agent !== conv.agent);
      if (others.length) {
        const pick = h('select', { id: 'transfer-to', name: 'to' }, others.map((a) => h('option', { value: a.agent }, `${a.agent}${a.online ? '' : ' (away)'}`)));
        buttons.push(h('span', { class: 'inline' }, h('label', { for: 'transfer-to' }, 'Transfer to '), pick,
          h('button', { type: 'button', onclick: () => act('transfer', { to: pick.value }, `Transferred to ${pick.value}.`) }, 'Transfer')));
      }
      const snooze = h('select', { id: 'snooze-for', name: 'snooze' },
        [['3600', '1 hour'], ['14400', '4 hours'], ['86400', '1 day'], ['604800', '1 week']].map(([v, l]) => h('option', { value: v }, l)));
      buttons.push(h('span', { class: 'inline' }, h('label', { for: 'snooze-for' }, 'Snooze for '), snooze,
        h('button', { type: 'button', onclick: async () => act('snooze', { until: Math.floor(await serverNow()) + Number(snooze.value) }, 'Snoozed.') }, 'Snooze')));
      buttons.push(h('button', { type: 'button', class: 'danger', onclick: () => act('close', {}, 'Closed.') }, 'Close'));
    } else {
      buttons.push(h('p', { class: 'hint' }, 'No open conversation: sending a message below reopens it and assigns it to you.'));
    }
    fill(actions, buttons);
  }

  refresh();
  const unsubscribe = live.subscribe(() => refresh());
  return () => { gone = true; unsubscribe(); };
}
