// The page's audio: one AudioContext, a master bus with a level meter, playback of decoded hits,
// hashing of the WAV bytes, and 16-bit WAV encoding for the loop export.

export const ctx = new AudioContext({ latencyHint: 'interactive' });
export const master = ctx.createGain();
const analyser = ctx.createAnalyser();
analyser.fftSize = 1024;
master.connect(analyser);
analyser.connect(ctx.destination);

const frame = new Float32Array(analyser.fftSize);
let held = 0; // the highest level since the last reset: what the meter and the tests read

export function level() {
  analyser.getFloatTimeDomainData(frame);
  let peak = 0;
  for (const v of frame) peak = Math.max(peak, Math.abs(v));
  held = Math.max(held, peak);
  return peak;
}

export function heldPeak(reset = false) {
  const value = held;
  if (reset) held = 0;
  return value;
}

export async function resume() {
  if (ctx.state !== 'running') await ctx.resume();
}

export async function decode(bytes) {
  return ctx.decodeAudioData(bytes.slice(0)); // decodeAudioData detaches its argument
}

export async function sha256(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// Play `buffer` at context time `when` (0: now) through `destination`; returns the source node.
export function play(buffer, { when = 0, offset = 0, duration, gain = 1, context = ctx, destination = master } = {}) {
  const source = context.createBufferSource();
  source.buffer = buffer;
  let out = source;
  if (gain !== 1) {
    const g = context.createGain();
    g.gain.value = gain;
    source.connect(g);
    out = g;
  }
  out.connect(destination);
  source.start(when, offset, duration);
  return source;
}

// Mono 16-bit PCM WAV bytes of `samples` (Float32Array in [-1, 1]) at `sampleRate`.
export function encodeWav(samples, sampleRate) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
  }
  return buffer;
}
