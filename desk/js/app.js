// The desk's entry: sign-in, who the caller is, and which screen the address shows.
// Screens: #/inbox (DESK-2), #/c/{number}/{contact} (DESK-3..5), #/admin[/page] (DESK-5).

import { ApiError, call, session } from './api.js';
import { fill, h, say } from './dom.js';
import * as live from './live.js';
import { showInbox } from './inbox.js';
import { showConversation } from './conversation.js';
import { showAdmin } from './admin.js';

const main = document.getElementById('main');

/** What every screen needs: the caller and the number being worked on. */
export const desk = {
  me: null,
  number: null,
  /** Called by a screen when it goes away (stops its subscriptions). */
  leave: null,
};

function signInForm(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  document.getElementById('sign-out').hidden = true;
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', id: 'sign-in-error', role: 'alert' }, message ?? '');
  const form = h('form', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in to the desk'),
    h('p', {}, 'Paste your desk token (from the desk file’s [[tokens]]). It is kept in this tab only.'),
    h('label', { for: 'token' }, 'Token'),
    input,
    error,
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    session.token = input.value.trim();
    await boot();
  });
  fill(main, form);
  input.focus();
}

async function boot() {
  if (!session.token) return signInForm();
  try {
    desk.me = await call('me');
  } catch (e) {
    session.token = null;
    return signInForm(e instanceof ApiError && e.status === 401 ? 'That token is not valid.' : `Cannot reach the console: ${e.message}`);
  }
  const saved = sessionStorage.getItem('switchboard.number');
  desk.number = desk.me.numbers.includes(saved) ? saved : desk.me.numbers[0] ?? null;
  document.getElementById('nav').hidden = false;
  document.getElementById('nav-admin').hidden = desk.me.role !== 'admin';
  const who = document.getElementById('who');
  who.hidden = false;
  who.textContent = `${desk.me.agent} (${desk.me.role})`;
  document.getElementById('sign-out').hidden = false;
  live.start();
  if (!location.hash || location.hash === '#') location.hash = '#/inbox';
  else route();
}

export function setNumber(number) {
  desk.number = number;
  sessionStorage.setItem('switchboard.number', number);
}

function route() {
  if (!desk.me) return;
  desk.leave?.();
  desk.leave = null;
  const [path, query] = location.hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query ?? '');
  for (const a of document.querySelectorAll('#nav a')) {
    a.toggleAttribute('aria-current', location.hash.startsWith(a.getAttribute('href')));
  }
  if (!desk.number) {
    fill(main, h('h1', {}, 'No business number'), h('p', {}, 'The desk file declares no number yet.'));
    return;
  }
  if (parts[0] === 'c' && parts.length === 3) {
    desk.leave = showConversation(main, desk, parts[1], parts[2]);
  } else if (parts[0] === 'admin') {
    desk.leave = showAdmin(main, desk, parts[1] ?? 'number');
  } else {
    desk.leave = showInbox(main, desk, params);
  }
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.token = null;
  desk.me = null;
  live.stop();
  desk.leave?.();
  location.hash = '';
  signInForm();
});

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason instanceof ApiError && e.reason.status === 401) {
    session.token = null;
    signInForm('Your session has ended; sign in again.');
  } else {
    say(`Something failed: ${e.reason?.message ?? e.reason}`, 'error');
  }
});

boot();
