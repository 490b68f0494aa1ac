// A 16-step sequencer of 4-8 lanes playing the page's sounds with Web Audio, with tempo, swing and
// per-hit variation (each hit of a lane takes the next of its small latent variations, as the Neural
// Drum Machine's device does). Scheduling looks ahead on the audio clock, so timing does not depend
// on the main thread; the loop export renders the same pattern offline.

import { ctx, play } from './audio.js';

export const STEPS = 16;
export const MIN_LANES = 4;
export const MAX_LANES = 8;
const LOOKAHEAD = 0.12; // seconds scheduled ahead of the audio clock
const TICK_MS = 25;

export class Sequencer {
  // sounds: Map id -> {buffer, meta}; callbacks: onAssign(lane), onVary(lane), onChange()
  constructor(el, sounds, { onAssign, onVary, onChange }) {
    this.el = el;
    this.sounds = sounds;
    this.onAssign = onAssign;
    this.onVary = onVary;
    this.onChange = onChange;
    this.lanes = [];
    this.tempo = 120;
    this.swing = 0;
    this.playing = false;
    this.log = []; // every scheduled hit: {lane, step, time, id}: what the tests read
    for (let i = 0; i < MIN_LANES; i++) this.addLane();
  }

  stepSeconds() {
    return 60 / this.tempo / 4;
  }

  barSeconds() {
    return this.stepSeconds() * STEPS;
  }

  // When step `i` sounds within its bar: odd 16ths are delayed by `swing` of a step.
  offset(i) {
    return i * this.stepSeconds() + (i % 2 ? this.swing * this.stepSeconds() : 0);
  }

  addLane(steps) {
    if (this.lanes.length >= MAX_LANES) return null;
    const lane = { id: null, steps: steps ? [...steps] : new Array(STEPS).fill(false), vary: false,
      variants: [], next: 0, cells: [] };
    this.lanes.push(lane);
    this.draw();
    return lane;
  }

  removeLane() {
    if (this.lanes.length <= MIN_LANES) return;
    this.lanes.pop();
    this.draw();
  }

  // The buffer a hit of `lane` plays: the lane's sound, or with variation on its next variation.
  pick(lane) {
    const ids = lane.vary && lane.variants.length ? lane.variants : [lane.id];
    const id = ids[lane.next++ % ids.length];
    const sound = this.sounds.get(id);
    return sound ? { id, buffer: sound.buffer } : null;
  }

  start() {
    if (this.playing) return;
    this.playing = true;
    this.step = 0;
    this.barStart = ctx.currentTime + 0.05;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
  }

  stop() {
    this.playing = false;
    clearInterval(this.timer);
    for (const lane of this.lanes) lane.cells.forEach((c) => c.classList.remove('now'));
  }

  tick() {
    while (this.playing) {
      const when = this.barStart + this.offset(this.step);
      if (when > ctx.currentTime + LOOKAHEAD) break;
      this.schedule(this.step, when);
      this.step += 1;
      if (this.step === STEPS) {
        this.step = 0;
        this.barStart += this.barSeconds();
      }
    }
  }

  schedule(step, when) {
    this.lanes.forEach((lane, index) => {
      if (!lane.steps[step] || !lane.id) return;
      const hit = this.pick(lane);
      if (!hit) return;
      play(hit.buffer, { when });
      this.log.push({ lane: index, step, time: when, id: hit.id });
    });
    const delay = Math.max(0, (when - ctx.currentTime) * 1000);
    setTimeout(() => this.light(step), delay);
  }

  light(step) {
    if (!this.playing) return;
    for (const lane of this.lanes) lane.cells.forEach((c, i) => c.classList.toggle('now', i === step));
  }

  // One bar of the pattern as mono samples at `sampleRate`; hits ringing past the bar's end are
  // folded back onto its start, so the file loops seamlessly.
  async renderBar(sampleRate = 44100) {
    const bar = Math.round(this.barSeconds() * sampleRate);
    const offline = new OfflineAudioContext(1, bar * 2, sampleRate);
    for (const lane of this.lanes) lane.next = 0;
    for (let step = 0; step < STEPS; step++) {
      for (const lane of this.lanes) {
        if (!lane.steps[step] || !lane.id) continue;
        const hit = this.pick(lane);
        if (hit) play(hit.buffer, { when: this.offset(step), context: offline, destination: offline.destination });
      }
    }
    const rendered = (await offline.startRendering()).getChannelData(0);
    const out = rendered.slice(0, bar);
    for (let i = 0; i < bar; i++) out[i] += rendered[bar + i];
    return out;
  }

  draw() {
    this.el.innerHTML = '';
    this.lanes.forEach((lane, index) => {
      const row = document.createElement('div');
      row.className = 'lane';
      row.dataset.lane = index;
      const name = document.createElement('button');
      name.className = 'lane-name';
      name.title = 'put the current sound on this lane';
      const sound = lane.id && this.sounds.get(lane.id);
      name.textContent = sound ? sound.meta.name.replace(/\.wav$/, '') : '◀ load';
      name.addEventListener('click', () => this.onAssign(lane));
      const vary = document.createElement('button');
      vary.className = `lane-vary${lane.vary ? ' on' : ''}`;
      vary.textContent = 'VAR';
      vary.title = 'per-hit variation: each hit plays another small variation of the sound';
      vary.setAttribute('aria-pressed', lane.vary);
      vary.addEventListener('click', () => this.onVary(lane));
      const cells = document.createElement('div');
      cells.className = 'cells';
      lane.cells = lane.steps.map((on, step) => {
        const cell = document.createElement('button');
        cell.className = `cell${on ? ' on' : ''}${step % 4 === 0 ? ' beat' : ''}`;
        cell.setAttribute('aria-label', `lane ${index + 1} step ${step + 1}`);
        cell.setAttribute('aria-pressed', on);
        cell.addEventListener('click', () => {
          lane.steps[step] = !lane.steps[step];
          cell.classList.toggle('on', lane.steps[step]);
          cell.setAttribute('aria-pressed', lane.steps[step]);
          this.onChange();
        });
        cells.append(cell);
        return cell;
      });
      row.append(name, vary, cells);
      this.el.append(row);
    });
  }
}
