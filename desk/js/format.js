// How things read: names, times, message bodies and notices, in the desk's words.

/** The name an agent knows the contact by: the desk's profile, else WhatsApp's, else the number. */
export function contactName(profile = {}, contact = '') {
  const full = [profile.first_name, profile.last_name].filter(Boolean).join(' ');
  return full || profile.profile_name || profile.phone || (contact ? `+${contact}` : 'Unknown');
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/** Epoch seconds as a time of day (today) or a date and time. */
export function when(seconds, now = Date.now() / 1000) {
  if (seconds === undefined || seconds === null) return '';
  const d = new Date(seconds * 1000);
  return Math.abs(now - seconds) < 20 * 3600 ? clock.format(d) : day.format(d);
}

/** A duration in words: "3 h 5 min", "2 days". */
export function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 2 * 86400) return `${Math.floor(s / 86400)} days`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}

/** A one-line text for a message body as the log gives it (inbound as Meta sent it, outbound as requested). */
export function bodyText(body) {
  if (!body || typeof body !== 'object') return '';
  switch (body.type) {
    case 'text': return typeof body.body === 'string' ? body.body : (body.text?.body ?? '');
    case 'button': return `Pressed “${body.text ?? body.button?.text ?? ''}”`;
    case 'button_reply':
    case 'list_reply': return `Chose “${body.title ?? ''}”`;
    case 'interactive': return `Chose “${body.button_reply?.title ?? body.list_reply?.title ?? ''}”`;
    case 'buttons': return `${body.body ?? ''} [${(body.buttons ?? []).map((b) => (Array.isArray(b) ? b[1] : b.title)).join(' | ')}]`;
    case 'template': return `Template “${body.name ?? ''}”${body.parameters?.length ? `: ${body.parameters.join(', ')}` : ''}`;
    case 'image': case 'video': case 'audio': case 'document': case 'sticker':
      return `${body.type[0].toUpperCase()}${body.type.slice(1)}${body.caption ? `: ${body.caption}` : ''}`;
    case 'location': return `Location${body.name ? `: ${body.name}` : ''}`;
    case 'reaction': return `Reacted ${body.emoji ?? ''}`;
    default: return body.body && typeof body.body === 'string' ? body.body : (body.type ?? 'Message');
  }
}

const closeReasons = {
  bot_completed: 'the bot finished',
  bot_timeout: 'the bot timed out',
  auto_close: 'no answer within the auto-close time',
  agent: 'an agent closed it',
  replaced_by_outreach: 'an outreach answer started a new one',
  campaign_ended: 'the campaign interaction ended',
};

/** What a notice says, as { title, detail, tone }. */
export function noticeText(notice) {
  const n = notice ?? {};
  const kind = n.notice ?? n.kind ?? n.type ?? Object.keys(n)[0];
  switch (kind) {
    case 'expired_outreach_pressed':
      return { title: 'Expired outreach', detail: `The customer answered an outreach that has expired (${n.outreach ?? ''}). The pressed message is shown above; you handle the conversation.`, tone: 'warn' };
    case 'outreach_pressed':
      return { title: 'Active outreach pressed', detail: `The customer pressed ${n.button !== undefined && n.button !== null ? `button ${n.button + 1}` : 'a button'} of outreach ${n.outreach ?? ''}.`, tone: 'info' };
    case 'started_from_outreach':
      return { title: 'Started from an outreach', detail: `Outreach ${n.outreach ?? ''}${n.button !== undefined && n.button !== null ? `, button ${n.button + 1}` : ''}.`, tone: 'info' };
    case 'csat_answered':
      return { title: 'Survey answered', detail: `CSAT score ${n.score}${n.agent ? ` for ${n.agent}` : ''}.`, tone: 'good' };
    case 'send_refused':
      return { title: 'Send refused', detail: n.reason ?? '', tone: 'bad' };
    case 'assigned_to': return { title: `Assigned to ${n.agent}`, detail: '', tone: 'quiet' };
    case 'queued': return { title: `In the queue, position ${n.position}`, detail: '', tone: 'quiet' };
    case 'unassigned': return { title: 'Waiting for an agent', detail: '', tone: 'quiet' };
    case 'snoozed': return { title: `Snoozed until ${when(n.until)}`, detail: '', tone: 'quiet' };
    case 'reopened': return { title: 'Reopened', detail: '', tone: 'quiet' };
    case 'handed_off_by_bot': return { title: 'The bot handed off', detail: '', tone: 'quiet' };
    case 'conversation_opened': return { title: 'Conversation opened', detail: '', tone: 'quiet' };
    case 'conversation_closed': return { title: 'Conversation closed', detail: closeReasons[n.reason] ?? n.reason ?? '', tone: 'quiet' };
    default: return { title: String(kind ?? 'Notice').replaceAll('_', ' '), detail: '', tone: 'quiet' };
  }
}

/** A template send as the customer saw it: the template's body with its parameters filled in. */
export function templateText(body, templates) {
  if (body?.type !== 'template' || !Array.isArray(templates)) return '';
  const t = templates.find((x) => x.name === body.name && (!body.language || x.language === body.language));
  if (!t) return '';
  const values = Array.isArray(body.parameters) ? body.parameters : [];
  return t.body.replace(/\{\{(\d+)\}\}/g, (m, n) => values[Number(n) - 1] ?? m);
}

const charges = {
  charged: 'charged',
  free_service_window: 'free: service inside the customer service window',
  free_utility_in_service_window: 'free: utility inside the customer service window',
  free_entry_point: 'free: inside a free entry point window',
  free_conversation_open: 'free: a conversation was already open',
  free_service_tier: 'free: the month’s free service messages',
  free: 'free (no reason given)',
  '': 'not recorded (counted before charges were kept)',
};

/** BILL-6: a cost line's charge, `charged` or free and why, in the desk's words. */
export function chargeText(charge) {
  return charges[charge ?? ''] ?? String(charge).replaceAll('_', ' ');
}

/** Millionths of a currency unit as an amount: 69100 → "0.0691", 0 → "0.00", 1500000 → "1.50". */
export function amount(micros) {
  const m = Math.trunc(Number(micros) || 0);
  const sign = m < 0 ? '-' : '';
  const abs = Math.abs(m);
  const fraction = String(abs % 1e6).padStart(6, '0').replace(/0{1,4}$/, '');
  return `${sign}${Math.floor(abs / 1e6)}.${fraction}`;
}
