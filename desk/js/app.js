// The desk's entry: sign-in, who the caller is, and which screen the address shows.
// Screens: #/inbox (DESK-2), #/c/{number}/{contact} (DESK-3..5), #/admin[/page] (DESK-5).

import { ApiError, call, session, setApiBase } from './api.js';
import { finishSignIn, loadConfig, signIn, signOutUrl } from './auth.js';
import { fill, h, say } from './dom.js';
import * as live from './live.js';
import { showInbox } from './inbox.js';
import { showConversation } from './conversation.js';

const main = document.getElementById('main');

/** What every screen needs: the caller and the number being worked on. */
export const desk = {
  me: null,
  number: null,
  /** Called by a screen when it goes away (stops its subscriptions). */
  leave: null,
};

/** How people sign in here (auth.js): the desk file's tokens, or OIDC. */
let config = null;

function signInForm(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  document.getElementById('sign-out').hidden = true;
  if (config?.auth === 'oidc') return oidcSignIn(message);
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

/** The stack's sign-in: one button to the organisation's sign-in page (code + PKCE). */
function oidcSignIn(message) {
  const button = h('button', { type: 'button', id: 'oidc-sign-in' }, 'Sign in');
  button.addEventListener('click', () => {
    button.disabled = true;
    signIn(config, location.hash).catch((e) => { button.disabled = false; say(`Cannot sign in: ${e.message}`, 'error'); });
  });
  fill(main, h('section', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in to the desk'),
    h('p', {}, 'With your organisation’s account. You come back here once signed in; the session is kept in this tab only.'),
    h('p', { class: 'error', id: 'sign-in-error', role: 'alert' }, message ?? ''),
    button));
  button.focus();
}

async function boot() {
  if (!config) {
    try {
      config = await loadConfig();
    } catch (e) {
      fill(main, h('h1', {}, 'The desk is not set up'), h('p', { class: 'error', role: 'alert' }, e.message));
      return undefined;
    }
    setApiBase(config.api);
  }
  if (config.auth === 'oidc') {
    try {
      const token = await finishSignIn(config);
      if (token) session.token = token;
    } catch (e) {
      session.token = null;
      return signInForm(`Not signed in: ${e.message}.`);
    }
  }
  if (!session.token) return signInForm();
  try {
    desk.me = await call('me');
  } catch (e) {
    session.token = null;
    const refused = config.auth === 'oidc' ? 'The console did not accept your sign-in; sign in again.' : 'That token is not valid.';
    if (e instanceof ApiError && e.status === 403) return signInForm(`Signed in, but ${e.message}.`);
    return signInForm(e instanceof ApiError && e.status === 401 ? refused : `Cannot reach the console: ${e.message}`);
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
    // Loaded when first opened: agents never download the admin pages.
    let leave = null;
    let gone = false;
    desk.leave = () => { gone = true; leave?.(); };
    import('./admin.js').then(({ showAdmin }) => {
      if (!gone) leave = showAdmin(main, desk, parts[1] ?? 'number');
    });
  } else {
    desk.leave = showInbox(main, desk, params);
  }
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.token = null;
  desk.me = null;
  live.stop();
  desk.leave?.();
  const away = config && signOutUrl(config);
  if (away) {
    location.assign(away);
    return;
  }
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
