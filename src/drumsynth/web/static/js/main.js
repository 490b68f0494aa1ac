// The web instrument: wires the controls to the server's Session routes and the sounds to the display,
// the history, morph A/B and the sequencer. The page keeps the navigation state (sliders, centre,
// directions, pad, a style model's style controls) and sends it with each request; the server keeps one
// Session per model.

import { client, getJSON, postFile, postJSON, Stream } from './api.js';
import * as audio from './audio.js';
import { Knob, Pad } from './controls.js';
import { createDisplay } from './display.js';
import { Sequencer } from './sequencer.js';

const $ = (id) => document.getElementById(id);
const SHORT = { kick: 'KCK', snare: 'SNR', clap: 'CLP', hihat_closed: 'HHC', hihat_open: 'HHO', cymbal: 'CYM',
  tom: 'TOM', perc: 'PRC' };
const HISTORY = 24; // chips shown
const KEEP_SOUNDS = 96; // decoded sounds kept beyond those in use
// Lanes a new page starts with: a class each (the first the model knows) and a pattern.
const STARTER = [
  ['kick', [0, 7, 8, 10]], ['snare', [4, 12]], ['hihat_closed', [0, 2, 4, 6, 8, 10, 12, 14]],
  ['clap', [12]], ['cymbal', [0, 2, 4, 6, 8, 10, 12, 14]], ['tom', [14, 15]], ['perc', [3, 11]],
];

const state = {
  model: null, info: null, sliders: [], cls: null, center: null, directionSeed: 0, padMode: 'pca',
  lastNav: 'pad', current: null, morph: { a: null, b: null, mode: 'slerp' }, renders: 0,
  // a style model's controls: PCA style faders (standard deviations), the layers they move, the noise amount
  style: { faders: [], layers: 'all', noise: 1 },
};
const sounds = new Map();
const latencies = [];
// What tests and scripts/web_latency.py read.
const hook = { client, state, sounds, latencies, errors: [], ready: false, lastLoop: null, lastKit: null,
  plays: 0, peak: (reset) => audio.heldPeak(reset) };
window.drumsynth = hook;

// ---- status and errors ----------------------------------------------------------------------------

function showError(err) {
  const message = (err && err.message) || String(err);
  $('error-text').textContent = message;
  $('error').hidden = false;
  hook.errors.push(message);
}
$('error-close').addEventListener('click', () => { $('error').hidden = true; });

let inFlight = 0;
async function tracked(promise) {
  inFlight += 1;
  $('busy-led').classList.add('on');
  try {
    return await promise;
  } finally {
    inFlight -= 1;
    $('busy-led').classList.toggle('on', inFlight > 0);
  }
}

let modelStatus = '';
function status(text) {
  $('status').textContent = text || modelStatus;
}

// ---- sounds --------------------------------------------------------------------------------------

async function fetchSound(meta) {
  if (sounds.has(meta.id)) return sounds.get(meta.id);
  const response = await fetch(meta.url);
  if (!response.ok) throw new Error(`audio ${meta.id}: HTTP ${response.status}`);
  const bytes = await response.arrayBuffer();
  const [sha, buffer] = await Promise.all([audio.sha256(bytes), audio.decode(bytes)]);
  const sound = { meta, bytes, buffer, sha };
  sounds.set(meta.id, sound);
  return sound;
}

function prune() {
  if (sounds.size <= KEEP_SOUNDS) return;
  const used = new Set([state.current && state.current.meta.id, state.morph.a, state.morph.b]);
  for (const chip of $('history').children) used.add(chip.dataset.id);
  for (const lane of seq.lanes) [lane.id, ...lane.variants].forEach((id) => used.add(id));
  for (const id of sounds.keys()) {
    if (sounds.size <= KEEP_SOUNDS) break;
    if (!used.has(id)) sounds.delete(id);
  }
}

// A render arrived: fetch and decode it, make it the current sound, and log the latency from the
// control change (t0) to audio ready to play in this page.
async function arrive(meta, t0, kind) {
  if (!meta) return null; // replaced by a newer request
  const sound = await fetchSound(meta);
  const ms = performance.now() - t0;
  latencies.push({ kind, ms, render_ms: meta.render_ms, server_ms: meta.server_ms, id: meta.id });
  $('latency').textContent = `${ms.toFixed(0)} ms [${meta.render_ms.toFixed(0)}]`;
  state.renders += 1;
  setCurrent(sound);
  addHistory(sound);
  prune();
  return sound;
}

function setCurrent(sound) {
  state.current = sound;
  document.body.dataset.sha = sound.sha;
  document.body.dataset.renders = state.renders;
  $('sound-name').textContent = sound.meta.name;
  $('hash').textContent = `sha ${sound.sha.slice(0, 10)}`;
  const link = $('download');
  link.href = sound.meta.url;
  link.download = sound.meta.name;
  link.setAttribute('aria-disabled', 'false');
  showSoon(sound);
}

// The waveform and spectrogram are redrawn at most every SHOW_MS while the pad streams renders (each
// redraw costs the main thread more than decoding the hit does), and always for the last one.
const SHOW_MS = 150;
let shownAt = 0;
let showTimer = null;
function showSoon(sound) {
  clearTimeout(showTimer);
  const wait = stream.busy ? Math.max(0, shownAt + SHOW_MS - performance.now()) : 0;
  showTimer = setTimeout(() => {
    if (state.current !== sound) return;
    shownAt = performance.now();
    display.show(new Blob([sound.bytes], { type: 'audio/wav' })).catch(showError);
  }, wait);
}

function addHistory(sound) {
  const box = $('history');
  const chip = document.createElement('button');
  chip.className = 'chip';
  chip.dataset.id = sound.meta.id;
  const number = (sound.meta.name.match(/_(\d+)\.wav$/) || [])[1] || '';
  chip.textContent = `${SHORT[sound.meta.class] || sound.meta.class.toUpperCase()} ${number}`;
  chip.title = `${sound.meta.name} (${sound.meta.verb}): click to go back to it`;
  chip.addEventListener('click', () => recall(sound));
  box.prepend(chip);
  while (box.children.length > HISTORY) box.lastChild.remove();
}

// Back to an earlier sound: it becomes the current sound and the centre of the plane.
function recall(sound) {
  setCurrent(sound);
  if (sound.meta.model === state.model) {
    state.center = sound.meta.latent;
    state.sliders = state.info.classes.map((c) => sound.meta.labels[c]);
    drawFaders();
    if (sound.meta.style) setStyle(styleOf(sound.meta).style);
    setPadMode('plane', false);
    pad.set(0, 0, false);
    intensity.set(0, false);
  }
  playCurrent();
}

// ---- playback ------------------------------------------------------------------------------------

let cursorRun = 0;
async function playCurrent(region = null) {
  if (!state.current) return;
  await audio.resume();
  const buffer = state.current.buffer;
  const start = region ? region.start * buffer.duration : 0;
  const length = region ? (region.end - region.start) * buffer.duration : buffer.duration;
  audio.play(buffer, { offset: start, duration: length });
  hook.plays += 1;
  const run = ++cursorRun;
  const began = audio.ctx.currentTime;
  const tick = () => {
    if (run !== cursorRun) return;
    const t = audio.ctx.currentTime - began;
    display.cursor(Math.min(start + t, buffer.duration));
    if (t < length) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

const display = createDisplay({
  waveEl: $('wave'), specEl: $('spectrogram'),
  onClick: () => playCurrent(),
  onSelect: (region) => {
    $('crop').disabled = !region;
    if (region) playCurrent(region);
  },
});

$('play').addEventListener('click', () => playCurrent(display.selection()));
document.addEventListener('keydown', (e) => {
  if (e.code !== 'Space' || e.repeat) return;
  if (['INPUT', 'SELECT', 'TEXTAREA'].includes(e.target.tagName)) return;
  e.preventDefault();
  playCurrent(display.selection());
});
document.addEventListener('keyup', (e) => { if (e.code === 'Space' && e.target.tagName === 'BUTTON') e.preventDefault(); });

$('dragout').addEventListener('dragstart', (e) => {
  if (!state.current) return e.preventDefault();
  const url = new URL(state.current.meta.url, location.href).href;
  e.dataTransfer.setData('DownloadURL', `audio/wav:${state.current.meta.name}:${url}`);
  e.dataTransfer.setData('text/uri-list', url);
  e.dataTransfer.effectAllowed = 'copy';
});

$('crop').addEventListener('click', () => {
  const region = display.selection();
  if (!state.current || !region) return;
  const t0 = performance.now();
  tracked(postJSON('/api/crop', { id: state.current.meta.id, ...region }))
    .then((meta) => arrive(meta, t0, 'crop')).catch(showError);
});

// ---- controls ------------------------------------------------------------------------------------

const pad = new Pad($('pad'), $('puck'));
const fine = new Knob($('fine'));
const range = new Knob($('range'), (v) => `${v.toFixed(2)}σ`);
const intensity = new Knob($('intensity'), (v) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
const stream = new Stream(showError);

function navBody() {
  return { model: state.model, sliders: state.sliders, center: state.center, direction_seed: state.directionSeed,
    ...styleBody() };
}

// Render the current navigation (`kind`: pad | plane | vary | morph) through the stream: the request
// is built when it is sent, so it carries the newest values.
function navigate(kind, t0 = performance.now()) {
  state.lastNav = kind === 'morph' ? state.lastNav : kind;
  stream.push(async (started) => {
    let route;
    let body;
    if (kind === 'pad') {
      route = '/api/pad';
      body = { model: state.model, cls: state.cls, x: pad.x, y: pad.y, fine: fine.value, range: range.value };
    } else if (kind === 'plane') {
      route = '/api/plane';
      body = { ...navBody(), x: pad.x * range.value, y: pad.y * range.value };
    } else if (kind === 'vary') {
      route = '/api/vary';
      body = { ...navBody(), intensity: intensity.value };
    } else {
      route = '/api/morph';
      body = { a: state.morph.a, b: state.morph.b, t: Number($('morph-t').value), mode: state.morph.mode,
        ...morphStyle() };
    }
    await arrive(await tracked(postJSON(route, body)), started, kind);
  }, t0);
}

// Navigation around the centre needs one: without it, the first move draws one (Generate: its sound
// is the move's answer) and moves made while it comes wait for it instead of drawing more.
let centering = null;
async function aroundCenter(kind, t0) {
  if (state.center) return navigate(kind, t0);
  centering = centering || generate().finally(() => { centering = null; });
  await centering;
}

function setPadMode(mode, render = true) {
  if (mode === 'pca' && !(state.info && state.info.pad)) mode = 'plane';
  state.padMode = mode;
  for (const b of $('pad-mode').children) b.classList.toggle('on', b.dataset.mode === mode);
  $('fine').classList.toggle('off', mode !== 'pca');
  $('pad').dataset.mode = mode;
  if (!render) return;
  if (mode === 'pca') navigate('pad');
  else aroundCenter('plane').catch(showError);
}

$('pad-mode').addEventListener('click', (e) => { if (e.target.dataset.mode) setPadMode(e.target.dataset.mode); });
$('pad').addEventListener('input', (e) => {
  if (state.padMode === 'pca') navigate('pad', e.timeStamp);
  else aroundCenter('plane', e.timeStamp).catch(showError);
});
$('fine').addEventListener('input', (e) => { if (state.padMode === 'pca') navigate('pad', e.timeStamp); });
$('range').addEventListener('input', (e) => $('pad').dispatchEvent(new CustomEvent('input', { detail: e.detail })));
$('intensity').addEventListener('input', (e) => aroundCenter('vary', e.timeStamp).catch(showError));
$('direction').addEventListener('click', () => {
  state.directionSeed = Math.floor(Math.random() * 2 ** 31);
  if (state.padMode === 'pca') setPadMode('plane');
  else aroundCenter(state.lastNav === 'vary' ? 'vary' : 'plane').catch(showError);
});

// The class sliders (DrumGAN VST) re-render around the centre; the class menu picks the pad's class
// (the Neural Drum Machine) and sets the sliders to that class.
function drawFaders() {
  const box = $('faders');
  box.innerHTML = '';
  state.info.classes.forEach((cls, i) => {
    const trained = state.info.trained_classes.includes(cls);
    const col = document.createElement('label');
    col.className = `fader${trained ? '' : ' untrained'}`;
    const input = document.createElement('input');
    Object.assign(input, { type: 'range', min: 0, max: 1, step: 0.01, value: state.sliders[i], disabled: !trained });
    input.setAttribute('aria-label', `${cls} weight`);
    input.dataset.cls = cls;
    input.addEventListener('input', (e) => {
      state.sliders[i] = Number(input.value);
      // the sound now lies around the centre with these weights: the pad explores there too
      setPadMode('plane', false);
      aroundCenter(state.lastNav === 'plane' ? 'plane' : 'vary', e.timeStamp).catch(showError);
    });
    const name = document.createElement('span');
    name.textContent = SHORT[cls] || cls.toUpperCase();
    col.append(input, name);
    box.append(col);
  });
}

function oneHot(cls) {
  return state.info.classes.map((c) => (c === cls ? 1 : 0));
}

// Render the current view again with changed settings: the pad in PCA mode, else the last move around
// the centre.
function rerender(t0) {
  if (state.padMode === 'pca') navigate('pad', t0);
  else aroundCenter(state.lastNav === 'vary' ? 'vary' : 'plane', t0).catch(showError);
}

$('class-menu').addEventListener('change', (e) => {
  state.cls = e.target.value;
  state.sliders = oneHot(state.cls);
  drawFaders();
  rerender(e.timeStamp);
});

// ---- style controls (the style family: PCA style faders, their layers, the noise amount) -----------

const PLAIN_STYLE = { layers: 'all', noise: 1 };

// The style controls as a request's `style`; nothing for a model without them (the server refuses it).
function styleBody() {
  if (!(state.info && state.info.style)) return {};
  const { faders, layers, noise } = state.style;
  return { style: { faders, layers, noise } };
}

// A render's own style (its metadata's `style`) as a request's `style`, nothing for other families.
// The page sets one noise amount for every layer, so the first layer's is the amount.
function styleOf(meta) {
  if (!(meta && meta.style)) return {};
  return { style: { faders: meta.style.faders, layers: meta.style.fader_layers, noise: meta.style.noise[0] } };
}

// Morph renders with the panel's style when A is a sound of the current model, else with A's own.
function morphStyle() {
  const a = sounds.get(state.morph.a);
  return a && a.meta.model !== state.model ? styleOf(a.meta) : styleBody();
}

// A style change re-renders the current view: the morph when the current sound is one, else as rerender.
function restyle(t0) {
  const current = state.current && state.current.meta;
  if (current && current.verb === 'morph' && state.morph.a && state.morph.b) navigate('morph', t0);
  else rerender(t0);
}

const signed = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}σ`;

// The panel for this model: one vertical fader per principal direction (PC1, PC2, ...), the layer
// groups, the noise amount; hidden for the families without style controls.
function drawStyle() {
  const info = state.info.style;
  $('style-panel').hidden = !info;
  document.querySelector('.grid').classList.toggle('styled', Boolean(info));
  const box = $('style-faders');
  box.innerHTML = '';
  if (!info) {
    state.style = { faders: [], ...PLAIN_STYLE };
    return;
  }
  const menu = $('style-layers');
  menu.innerHTML = '';
  for (const group of info.layer_groups) menu.append(new Option(group, group));
  for (let k = 0; k < info.faders; k += 1) {
    const col = document.createElement('label');
    col.className = 'fader';
    const input = document.createElement('input');
    Object.assign(input, { type: 'range', min: -3, max: 3, step: 0.1, value: 0 });
    input.setAttribute('aria-label', `style fader PC${k + 1} (standard deviations)`);
    input.dataset.k = k;
    input.addEventListener('input', (e) => {
      state.style.faders[k] = Number(input.value);
      input.title = `PC${k + 1} ${signed(state.style.faders[k])}`;
      restyle(e.timeStamp);
    });
    input.addEventListener('dblclick', (e) => {
      input.value = 0;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      e.preventDefault();
    });
    const name = document.createElement('span');
    name.textContent = `PC${k + 1}`;
    col.append(input, name);
    box.append(col);
  }
  setStyle({ faders: [], ...PLAIN_STYLE });
}

// Set the panel (and state.style) to a request's `style` without rendering: missing faders are 0.
function setStyle({ faders, layers, noise }) {
  const inputs = [...$('style-faders').querySelectorAll('input')];
  state.style = { faders: inputs.map((_, k) => Number(faders[k] || 0)), layers, noise: Number(noise) };
  inputs.forEach((input, k) => {
    input.value = state.style.faders[k];
    input.title = `PC${k + 1} ${signed(state.style.faders[k])}`;
  });
  $('style-layers').value = layers;
  $('style-noise').value = state.style.noise;
  $('style-noise-value').textContent = state.style.noise.toFixed(2);
}

$('style-layers').addEventListener('change', (e) => {
  state.style.layers = e.target.value;
  restyle(e.timeStamp);
});
$('style-noise').addEventListener('input', (e) => {
  state.style.noise = Number(e.target.value);
  $('style-noise-value').textContent = state.style.noise.toFixed(2);
  restyle(e.timeStamp);
});
$('style-reset').addEventListener('click', (e) => {
  setStyle({ faders: [], ...PLAIN_STYLE });
  restyle(e.timeStamp);
});

// ---- Generate and Analyze ------------------------------------------------------------------------

const newSeed = () => Math.floor(Math.random() * 2 ** 31);

async function generate() {
  const t0 = performance.now();
  const meta = await tracked(postJSON('/api/generate', {
    model: state.model, sliders: state.sliders, seed: newSeed(), ...styleBody(),
  }));
  if (meta.model !== state.model) return null; // the model was switched meanwhile
  state.center = meta.center;
  pad.set(0, 0, false);
  intensity.set(0, false);
  setPadMode('plane', false);
  state.lastNav = 'plane';
  return arrive(meta, t0, 'generate');
}

async function analyze(file) {
  if (!file) return;
  const t0 = performance.now();
  status(`analyzing ${file.name}…`);
  try {
    const { style } = styleBody();
    const meta = await tracked(postFile('/api/analyze', {
      model: state.model, name: file.name, sliders: state.sliders.join(','),
      ...(style ? { style: JSON.stringify(style) } : {}),
    }, file));
    if (meta.model !== state.model) return;
    state.center = meta.center;
    if (state.info.estimates_classes) {
      state.sliders = meta.sliders;
      drawFaders();
    }
    pad.set(0, 0, false);
    intensity.set(0, false);
    setPadMode('plane', false);
    state.lastNav = 'plane';
    await arrive(meta, t0, 'analyze');
    status(`analyzed ${file.name}`);
  } catch (err) {
    status('');
    throw err;
  }
}

$('generate').addEventListener('click', () => generate().catch(showError));
$('file').addEventListener('change', (e) => {
  analyze(e.target.files[0]).catch(showError).finally(() => { e.target.value = ''; });
});
const drop = $('drop');
for (const type of ['dragenter', 'dragover']) {
  drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add('over'); });
}
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  analyze(e.dataTransfer.files[0]).catch(showError);
});

// ---- morph A/B -----------------------------------------------------------------------------------

function setSlot(slot) {
  if (!state.current) return;
  state.morph[slot] = state.current.meta.id;
  $(`${slot}-name`).textContent = state.current.meta.name.replace(/\.wav$/, '');
  $(`set-${slot}`).classList.add('on');
}
$('set-a').addEventListener('click', () => setSlot('a'));
$('set-b').addEventListener('click', () => setSlot('b'));
$('morph-t').addEventListener('input', (e) => {
  if (!state.morph.a || !state.morph.b) return showError(new Error('morph: set A and B first (the current sound)'));
  navigate('morph', e.timeStamp);
});
$('morph-mode').addEventListener('click', (e) => {
  const mode = e.target.dataset.mode;
  if (!mode) return;
  state.morph.mode = mode;
  for (const b of $('morph-mode').children) b.classList.toggle('on', b.dataset.mode === mode);
  if (state.morph.a && state.morph.b) navigate('morph');
});

// ---- sequencer -----------------------------------------------------------------------------------

async function varyLane(lane) {
  lane.vary = !lane.vary;
  if (lane.vary && lane.id && !lane.variants.length) {
    // the variations keep the style the lane's sound was made with
    const own = styleOf(sounds.has(lane.id) && sounds.get(lane.id).meta);
    const answer = await tracked(postJSON('/api/variations', { id: lane.id, n: 4, amount: 0.1, seed: newSeed(), ...own }));
    await Promise.all(answer.variations.map(fetchSound));
    lane.variants = answer.variations.map((m) => m.id);
  }
  seq.draw();
}

const seq = new Sequencer($('lanes'), sounds, {
  onAssign: (lane) => {
    if (!state.current) return;
    lane.id = state.current.meta.id;
    lane.variants = [];
    lane.vary = false;
    seq.draw();
  },
  onVary: (lane) => varyLane(lane).catch((err) => { lane.vary = false; seq.draw(); showError(err); }),
  onChange: () => {},
});
hook.seq = seq;
// Nothing on its way: no request in flight and no control change waiting (tests wait for this).
hook.idle = () => inFlight === 0 && !stream.busy;

const tempo = new Knob($('tempo'), (v) => `${v.toFixed(0)}`);
const swing = new Knob($('swing'), (v) => `${Math.round(v * 100)}%`);
$('tempo').addEventListener('input', (e) => { seq.tempo = e.detail; });
$('swing').addEventListener('input', (e) => { seq.swing = e.detail; });
$('seq-play').addEventListener('click', async () => {
  await audio.resume();
  if (seq.playing) seq.stop();
  else seq.start();
  $('seq-play').textContent = seq.playing ? '■ STOP' : '▶ RUN';
  $('seq-play').classList.toggle('on', seq.playing);
});
$('lane-add').addEventListener('click', () => seq.addLane());
$('lane-remove').addEventListener('click', () => seq.removeLane());

function offer(href, name) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  offer(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

$('export-loop').addEventListener('click', async () => {
  try {
    const samples = await seq.renderBar(44100);
    let peak = 0;
    for (const v of samples) peak = Math.max(peak, Math.abs(v));
    const bytes = audio.encodeWav(samples, 44100);
    hook.lastLoop = { sha: await audio.sha256(bytes), bytes: bytes.byteLength, peak };
    saveBlob(new Blob([bytes], { type: 'audio/wav' }), `drumsynth-loop-${Math.round(seq.tempo)}bpm.wav`);
  } catch (err) {
    showError(err);
  }
});

$('export-kit').addEventListener('click', async () => {
  const lanes = seq.lanes.filter((lane) => lane.id)
    .map((lane) => ({ id: lane.id, variants: lane.vary ? lane.variants : [] }));
  if (!lanes.length) return showError(new Error('kit: put a sound on a lane first'));
  try {
    hook.lastKit = await tracked(postJSON('/api/kit', { lanes, name: 'drumsynth-web-kit' }));
    offer(hook.lastKit.url, hook.lastKit.name);
  } catch (err) {
    showError(err);
  }
});

async function fillLanes() {
  const known = state.info.trained_classes;
  const picks = STARTER.filter(([cls]) => known.includes(cls));
  for (const [i, lane] of seq.lanes.entries()) {
    if (lane.id || !picks.length) continue;
    const [cls, steps] = picks[i % picks.length];
    const meta = await postJSON('/api/generate', { model: state.model, sliders: oneHot(cls), seed: 1000 + i, ...styleBody() });
    await fetchSound(meta);
    lane.id = meta.id;
    lane.steps = new Array(16).fill(false).map((_, s) => steps.includes(s));
    addHistory(sounds.get(meta.id));
  }
  seq.draw();
}

// ---- models --------------------------------------------------------------------------------------

async function loadModel(key) {
  status(`loading ${key}…`);
  const info = await tracked(getJSON(`/api/model?key=${encodeURIComponent(key)}`));
  Object.assign(state, { model: key, info, center: null, cls: info.trained_classes[0], lastNav: 'pad' });
  state.sliders = oneHot(state.cls);
  const menu = $('class-menu');
  menu.innerHTML = '';
  for (const cls of info.trained_classes) menu.append(new Option(cls.replace('_', ' '), cls));
  drawFaders();
  drawStyle();
  $('pad-mode').hidden = !info.pad;
  $('fine').hidden = !info.pad;
  $('drop').title = info.estimates_classes
    ? 'choose or drop a sound: it becomes the centre and sets the class sliders'
    : 'choose or drop a sound: it becomes the centre (encoded with the class sliders)';
  pad.set(0, 0, false);
  intensity.set(0, false);
  $('drop').hidden = !info.encoder;
  modelStatus = `${info.family} · ${info.classes.length} classes · latent ${info.latent_dim}`;
  status('');
  if (info.pad) {
    setPadMode('pca', false);
    const t0 = performance.now();
    await arrive(await tracked(postJSON('/api/pad', { model: key, cls: state.cls, x: 0, y: 0, fine: 0, range: range.value })), t0, 'pad');
  } else {
    setPadMode('plane', false);
    await generate();
  }
}

$('model').addEventListener('change', (e) => loadModel(e.target.value).catch(showError));

async function start() {
  const { default: key, models } = await getJSON('/api/models');
  for (const m of models) $('model').append(new Option(m.label, m.key, m.key === key, m.key === key));
  await loadModel(key);
  await fillLanes();
  hook.ready = true;
  document.body.dataset.ready = 'true';
}

// The meter, fed by the master bus.
(function meter() {
  const level = audio.level();
  $('meter-fill').style.width = `${Math.min(100, level * 100)}%`;
  requestAnimationFrame(meter);
})();

start().catch(showError);
