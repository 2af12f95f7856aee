// DESK-4: the window-aware composer. It shows what the engine's window check (WIN-4) says: while
// the customer service window is open, free-form text with the closing time; when it is closed,
// templates only: a picker that fills the variables, and a one-click recontact template.

import { call, sendFile } from './api.js';
import { fill, h, say } from './dom.js';
import { span, when } from './format.js';

const FREE = new Set(['allowed', 'allowed_with_tag', 'allowed_billed']);

/** What decides the composer's form (re-rendered only when it changes, so typing is kept). */
export function composerKey(window, status) {
  return JSON.stringify([window.state, window.free_form, window.template, window.closes_at, window.closed_since, status]);
}

/**
 * Fills `section` with the composer for the contact's `window` (GET …/window) and `templates`.
 * `sent()` is called after an accepted send.
 */
export function renderComposer(section, { number, contact, window, status, templates, now, sent }) {
  const title = h('h2', { id: 'composer-title' }, status === 'closed' ? 'Reopen by sending' : 'Reply');
  if (FREE.has(window.free_form)) {
    const closes = window.closes_at
      ? `Window open: closes at ${when(window.closes_at, now)} (in ${span(window.closes_at - now)}).`
      : 'Window open.';
    const text = h('textarea', { id: 'reply-text', name: 'text', rows: 3, maxlength: 4096, required: true });
    // MEDIA-3: a file goes with the message as its caption (at most 1024 characters then).
    const file = h('input', { id: 'reply-file', name: 'file', type: 'file' });
    file.addEventListener('change', () => { text.required = file.files.length === 0; });
    const form = h('form', { class: 'reply', 'aria-labelledby': 'composer-title' },
      h('p', { class: 'window open', id: 'window-state' }, closes, window.free_form_reason ? ` ${window.free_form_reason}.` : ''),
      h('label', { for: 'reply-text' }, 'Message'),
      text,
      h('label', { for: 'reply-file' }, 'Attach a file (documents up to 100 MB; the message is its caption)'),
      file,
      h('button', { type: 'submit' }, 'Send'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = text.value.trim();
      const chosen = file.files[0];
      if (chosen) {
        if (await sendAttachment(form, number, contact, chosen, body, sent)) {
          text.value = '';
          file.value = '';
          text.required = true;
        }
        return;
      }
      if (!body) return;
      await send(form, number, contact, { text: body }, sent);
      text.value = '';
    });
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
    });
    fill(section, title, form);
    return;
  }
  if (window.template === 'refused') {
    fill(section, title, h('p', { class: 'window closed', id: 'window-state' }, `Nothing can be sent: ${window.free_form_reason ?? 'refused'}.`));
    return;
  }
  const usable = templates.filter((t) => t.sendable);
  const recontact = usable.find((t) => t.recontact);
  const since = window.closed_since ? ` since ${when(window.closed_since, now)}` : '';
  const parts = [
    title,
    h('p', { class: 'window closed', id: 'window-state' },
      window.closed_since ? `The 24-hour window is closed${since}: templates only.` : 'The customer has not written yet: templates only.'),
  ];
  if (recontact) {
    const button = h('button', { type: 'button', class: 'recontact' }, 'Send Recontact Template');
    button.addEventListener('click', () => send(button, number, contact,
      { template: { name: recontact.name, language: recontact.language } }, sent));
    parts.push(h('p', {}, button, h('span', { class: 'hint' }, ` (${recontact.name}, ${recontact.language})`)));
  }
  parts.push(templatePicker(number, contact, usable, sent));
  fill(section, ...parts);
}

function templatePicker(number, contact, templates, sent) {
  if (templates.length === 0) return h('p', {}, 'No approved template on this number.');
  const select = h('select', { id: 'template-pick', name: 'template' },
    templates.map((t, i) => h('option', { value: String(i) }, `${t.name} (${t.language}, ${t.category.toLowerCase()})`)));
  const preview = h('p', { class: 'template-preview', id: 'template-preview' });
  const fields = h('div', { class: 'variables' });
  const show = () => {
    const t = templates[Number(select.value)];
    preview.textContent = t.body;
    const body = t.variables.filter((v) => v.startsWith('body'));
    fill(fields, body.map((v, i) => {
      const id = `template-var-${i}`;
      const mapped = !t.unmapped.includes(v);
      return h('p', {},
        h('label', { for: id }, `Variable ${v.replace('body ', '')}${mapped ? ' (left empty: from the contact)' : ''}`),
        h('input', { id, name: v, type: 'text', required: !mapped, dataset: { variable: v } }));
    }));
  };
  select.addEventListener('change', show);
  show();
  const form = h('form', { class: 'template-form', 'aria-label': 'Send a template' },
    h('label', { for: 'template-pick' }, 'Template'), select, preview, fields,
    h('button', { type: 'submit' }, 'Send template'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = templates[Number(select.value)];
    const values = [...fields.querySelectorAll('input')].map((i) => i.value.trim());
    const template = { name: t.name, language: t.language };
    if (values.some(Boolean)) template.parameters = values;
    send(form, number, contact, { template }, sent);
  });
  return form;
}

async function send(control, number, contact, body, sent) {
  const buttons = control.tagName === 'BUTTON' ? [control] : [...control.querySelectorAll('button')];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const accepted = await call('send', { number, contact }, { body });
    say(accepted.recontact ? 'Sent as the recontact template.' : 'Sent.');
    sent?.();
  } catch (e) {
    say(`Not sent: ${e.message}`, 'error');
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

/** MEDIA-3: the two-step upload (any size; past the API's request limit on AWS). */
async function sendAttachment(form, number, contact, file, caption, sent) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach((b) => { b.disabled = true; });
  say(`Uploading ${file.name}…`);
  try {
    await sendFile({ number, contact }, file, caption);
    say(`Sent ${file.name}.`);
    sent?.();
    return true;
  } catch (e) {
    say(`Not sent: ${e.message}`, 'error');
    return false;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
