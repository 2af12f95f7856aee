// The one place that knows when something changed. It follows the event stream
// (/v1/events/stream, server-sent events resumed with Last-Event-ID) when the console offers it,
// and polls otherwise, or while the stream is down. Screens subscribe and re-read what they show.

import { session } from './api.js';

const POLL_MS = 1500;
const listeners = new Set();
let mode = 'poll';
let timer = null;
let stream = null;
let lastEventId = null;

/** Calls `fn(event)` on every change (an event from the stream, or a poll tick). */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(event) {
  for (const fn of [...listeners]) {
    try { fn(event); } catch (e) { console.error(e); }
  }
}

/** Starts following changes; `hasStream` says whether the API document lists the stream. */
export function start(hasStream) {
  stop();
  if (hasStream) follow();
  else poll();
}

export function stop() {
  clearTimeout(timer);
  timer = null;
  stream?.abort();
  stream = null;
}

export function currentMode() { return mode; }

function poll() {
  mode = 'poll';
  const tick = () => {
    if (!document.hidden) emit({ type: 'poll' });
    timer = setTimeout(tick, POLL_MS);
  };
  timer = setTimeout(tick, POLL_MS);
}

async function follow() {
  mode = 'stream';
  stream = new AbortController();
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${session.token}` };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  try {
    const response = await fetch('/v1/events/stream', { headers, signal: stream.signal, cache: 'no-store' });
    if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parse(block);
        if (event.id) lastEventId = event.id;
        if (event.data !== undefined) emit({ type: event.event ?? 'message', data: event.data });
      }
    }
    throw new Error('stream ended');
  } catch (e) {
    if (stream?.signal.aborted) return;
    // Fall back to polling for a while, then try the stream again.
    mode = 'poll';
    emit({ type: 'poll' });
    timer = setTimeout(() => follow(), 5000);
  }
}

function parse(block) {
  const event = {};
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') event.data = event.data === undefined ? value : `${event.data}\n${value}`;
    else if (field === 'id') event.id = value;
    else if (field === 'event') event.event = value;
  }
  if (event.data !== undefined) {
    try { event.data = JSON.parse(event.data); } catch { /* keep text */ }
  }
  return event;
}
