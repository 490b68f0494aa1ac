// Talking to the server: JSON requests, uploads, and the "latest wins" stream of control changes.

const raw = (globalThis.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Math.random()).slice(2);
// This page's id: the server keeps one pending stream request per client (the newest).
export const client = raw.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32);

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function parse(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (data && data.stale) return null; // replaced by a newer request of ours: nothing to show
    throw new ApiError((data && data.error) || `${response.status} ${response.statusText}`, response.status);
  }
  return data;
}

export async function getJSON(url) {
  return parse(await fetch(url, { headers: { Accept: 'application/json' } }));
}

export async function postJSON(url, body) {
  return parse(await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client, ...body }),
  }));
}

export async function postFile(url, params, file) {
  const query = new URLSearchParams({ client, ...params });
  return parse(await fetch(`${url}?${query}`, {
    method: 'POST',
    headers: { 'Content-Type': file.type || 'application/octet-stream' },
    body: file,
  }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A stream of control changes (pad drags, knob turns, fader moves): one request in flight at a time;
// changes made meanwhile collapse into the newest, which is sent when the answer arrives. Dragging
// therefore asks for renders as fast as the server makes them and never queues stale positions.
export class Stream {
  constructor(onError, minGapMs = 10) {
    this.onError = onError;
    this.minGapMs = minGapMs;
    this.next = null;
    this.busy = false;
  }

  push(send, t0 = performance.now()) {
    this.next = { send, t0 };
    if (!this.busy) this.pump();
  }

  async pump() {
    this.busy = true;
    while (this.next) {
      const job = this.next;
      this.next = null;
      const started = performance.now();
      try {
        await job.send(job.t0);
      } catch (err) {
        this.onError(err);
      }
      const wait = this.minGapMs - (performance.now() - started);
      if (wait > 0) await sleep(wait);
    }
    this.busy = false;
  }
}
