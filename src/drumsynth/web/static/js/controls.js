// Instrument controls drawn by the page: rotary knobs and the XY pad.

const SVG = 'http://www.w3.org/2000/svg';
const SWEEP = 270; // degrees of a knob's travel, centred on 12 o'clock

function arc(cx, cy, r, from, to) {
  const point = (deg) => {
    const rad = ((deg - 90) * Math.PI) / 180;
    return [cx + r * Math.cos(rad), cy + r * Math.sin(rad)];
  };
  const [x1, y1] = point(from);
  const [x2, y2] = point(to);
  const large = Math.abs(to - from) > 180 ? 1 : 0;
  return `M ${x1} ${y1} A ${r} ${r} 0 ${large} ${to > from ? 1 : 0} ${x2} ${y2}`;
}

// A rotary knob on `el` (data-label, data-min, data-max, data-value, data-step). Drag up/down, use the
// wheel or the arrow keys; double-click resets. Fires `input` events while turning (detail: value).
export class Knob {
  constructor(el, format = (v) => v.toFixed(2)) {
    this.el = el;
    this.min = Number(el.dataset.min);
    this.max = Number(el.dataset.max);
    this.step = Number(el.dataset.step || 0.01);
    this.initial = Number(el.dataset.value);
    this.format = format;
    el.classList.add('knob');
    el.tabIndex = 0;
    el.setAttribute('role', 'slider');
    el.setAttribute('aria-label', el.dataset.label);
    el.setAttribute('aria-valuemin', this.min);
    el.setAttribute('aria-valuemax', this.max);
    el.innerHTML = '';
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 64 64');
    this.track = document.createElementNS(SVG, 'path');
    this.track.setAttribute('class', 'track');
    this.track.setAttribute('d', arc(32, 32, 27, -SWEEP / 2, SWEEP / 2));
    this.fill = document.createElementNS(SVG, 'path');
    this.fill.setAttribute('class', 'fill');
    const cap = document.createElementNS(SVG, 'circle');
    cap.setAttribute('class', 'cap');
    cap.setAttribute('cx', 32);
    cap.setAttribute('cy', 32);
    cap.setAttribute('r', 20);
    this.pointer = document.createElementNS(SVG, 'line');
    this.pointer.setAttribute('class', 'pointer');
    this.pointer.setAttribute('x1', 32);
    this.pointer.setAttribute('y1', 15);
    this.pointer.setAttribute('x2', 32);
    this.pointer.setAttribute('y2', 24);
    svg.append(this.track, this.fill, cap, this.pointer);
    this.readout = document.createElement('div');
    this.readout.className = 'readout';
    const label = document.createElement('div');
    label.className = 'label';
    label.textContent = el.dataset.label;
    el.append(svg, this.readout, label);
    this.set(this.initial, false);
    this.listen();
  }

  angle(value) {
    return -SWEEP / 2 + ((value - this.min) / (this.max - this.min)) * SWEEP;
  }

  set(value, emit = true) {
    const stepped = Math.round(value / this.step) * this.step;
    const v = Math.min(this.max, Math.max(this.min, stepped));
    const changed = v !== this.value;
    this.value = v;
    const zero = Math.min(this.max, Math.max(this.min, 0));
    const a0 = this.angle(this.min < 0 ? zero : this.min);
    const a1 = this.angle(v);
    this.fill.setAttribute('d', Math.abs(a1 - a0) < 0.5 ? '' : arc(32, 32, 27, Math.min(a0, a1), Math.max(a0, a1)));
    this.pointer.setAttribute('transform', `rotate(${a1} 32 32)`);
    this.readout.textContent = this.format(v);
    this.el.setAttribute('aria-valuenow', v);
    if (emit && changed) this.el.dispatchEvent(new CustomEvent('input', { detail: v }));
  }

  listen() {
    let startY = 0;
    let startValue = 0;
    this.el.addEventListener('pointerdown', (e) => {
      this.el.setPointerCapture(e.pointerId);
      startY = e.clientY;
      startValue = this.value;
      this.el.classList.add('turning');
    });
    this.el.addEventListener('pointermove', (e) => {
      if (!this.el.hasPointerCapture(e.pointerId)) return;
      const fine = e.shiftKey ? 0.2 : 1;
      this.set(startValue + ((startY - e.clientY) / 150) * (this.max - this.min) * fine);
    });
    const end = () => this.el.classList.remove('turning');
    this.el.addEventListener('pointerup', end);
    this.el.addEventListener('pointercancel', end);
    this.el.addEventListener('dblclick', () => this.set(this.initial));
    this.el.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.set(this.value - Math.sign(e.deltaY) * this.step * 5);
    }, { passive: false });
    this.el.addEventListener('keydown', (e) => {
      const moves = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1 };
      if (e.key in moves) {
        e.preventDefault();
        this.set(this.value + moves[e.key] * this.step * (e.shiftKey ? 10 : 1));
      }
    });
  }
}

// The XY pad: x and y in [-1, 1] (up is +y). Fires `input` events while dragging (detail: {x, y}).
export class Pad {
  constructor(el, puck) {
    this.el = el;
    this.puck = puck;
    this.x = 0;
    this.y = 0;
    this.place();
    const move = (e) => {
      const box = el.getBoundingClientRect();
      const x = ((e.clientX - box.left) / box.width) * 2 - 1;
      const y = 1 - ((e.clientY - box.top) / box.height) * 2;
      this.set(x, y);
    };
    el.addEventListener('pointerdown', (e) => {
      el.setPointerCapture(e.pointerId);
      el.classList.add('touching');
      move(e);
    });
    el.addEventListener('pointermove', (e) => {
      if (el.hasPointerCapture(e.pointerId)) move(e);
    });
    const end = () => el.classList.remove('touching');
    el.addEventListener('pointerup', end);
    el.addEventListener('pointercancel', end);
    el.addEventListener('keydown', (e) => {
      const moves = { ArrowUp: [0, 1], ArrowDown: [0, -1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
      if (e.key in moves) {
        e.preventDefault();
        const [dx, dy] = moves[e.key];
        this.set(this.x + dx * 0.05, this.y + dy * 0.05);
      }
    });
  }

  set(x, y, emit = true) {
    const clamp = (v) => Math.round(Math.min(1, Math.max(-1, v)) * 1000) / 1000;
    this.x = clamp(x);
    this.y = clamp(y);
    this.place();
    if (emit) this.el.dispatchEvent(new CustomEvent('input', { detail: { x: this.x, y: this.y } }));
  }

  place() {
    this.puck.style.left = `${((this.x + 1) / 2) * 100}%`;
    this.puck.style.top = `${((1 - this.y) / 2) * 100}%`;
  }
}
