// The one place that knows when something changed. It follows the event stream
// (/v1/events/stream, server-sent events resumed with Last-Event-ID; read with fetch, as the
// token goes in a header, which EventSource cannot send) where the server offers it, and polls
// where it does not (404). Screens subscribe and re-read what they show.

import { apiUrl, session } from './api.js';

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

/** Starts following changes: the event stream where the server offers it, else polling. */
export function start() {
  stop();
  follow();
}

export function stop() {
  clearTimeout(timer);
  timer = null;
  clearInterval(clock);
  clock = null;
  stream?.abort();
  stream = null;
}

// Time changes what a screen shows without an event (a window closes, "waiting 5 min" grows):
// while the stream is followed, screens re-read at this slower pace too.
const TIME_TICK_MS = 5000;
let clock = null;

export function currentMode() { return mode; }

/** The mode is also on the page (`<html data-live>`), for the tests and the curious. */
function setMode(next) {
  mode = next;
  document.documentElement.dataset.live = next;
}

function poll() {
  setMode('poll');
  const tick = () => {
    if (!document.hidden) emit({ type: 'poll' });
    timer = setTimeout(tick, POLL_MS);
  };
  timer = setTimeout(tick, POLL_MS);
}

async function follow() {
  setMode('stream');
  stream = new AbortController();
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${session.token}` };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  try {
    const response = await fetch(apiUrl('/v1/events/stream'), { headers, signal: stream.signal, cache: 'no-store' });
    if (response.status === 404 || response.status === 405) {
      // No stream here (on AWS the feed is long-polled): poll from now on.
      stream = null;
      poll();
      return;
    }
    if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
    clearInterval(clock);
    clock = setInterval(() => { if (!document.hidden) emit({ type: 'tick' }); }, TIME_TICK_MS);
    emit({ type: 'connected' });
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
    // Catch up by reading once, then try the stream again (Last-Event-ID resumes it).
    clearInterval(clock);
    setMode('poll');
    emit({ type: 'poll' });
    timer = setTimeout(() => follow(), 2000);
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
