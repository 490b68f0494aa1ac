// The sound's waveform and spectrogram (wavesurfer.js with its regions and spectrogram plugins).
// A click plays the sound; a drag selects the region that CROP keeps (and plays it).

import WaveSurfer from '../vendor/wavesurfer.js/wavesurfer.esm.js';
import RegionsPlugin from '../vendor/wavesurfer.js/plugins/regions.esm.js';
import SpectrogramPlugin from '../vendor/wavesurfer.js/plugins/spectrogram.esm.js';

// A dark-to-amber colour map (256 RGBA rows in [0, 1]) that matches the panel.
function colorMap() {
  const stops = [[0, [0.04, 0.05, 0.07]], [0.35, [0.16, 0.09, 0.32]], [0.6, [0.62, 0.18, 0.36]],
    [0.82, [0.98, 0.52, 0.2]], [1, [1, 0.93, 0.62]]];
  const rows = [];
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [t0, c0] = stops[k];
    const [t1, c1] = stops[k + 1];
    const f = (t - t0) / (t1 - t0);
    rows.push([0, 1, 2].map((j) => c0[j] + (c1[j] - c0[j]) * f).concat(1));
  }
  return rows;
}

export function createDisplay({ waveEl, specEl, onClick, onSelect }) {
  const regions = RegionsPlugin.create();
  const spectrogram = SpectrogramPlugin.create({
    container: specEl, height: 150, labels: false, fftSamples: 1024, colorMap: colorMap(),
    scale: 'mel', autoGain: true, rangeDB: 80, useWebWorker: false,
  });
  const ws = WaveSurfer.create({
    container: waveEl, height: 150, waveColor: '#35e0c9', progressColor: '#35e0c9', cursorColor: '#ffb347',
    cursorWidth: 1, normalize: true, barWidth: 2, barGap: 1, barRadius: 1, interact: true,
    sampleRate: 44100, // wavesurfer decodes at 8 kHz unless told: the spectrogram would stop at 4 kHz
    plugins: [regions, spectrogram],
  });
  let selected = null;
  let dragging = false;
  regions.enableDragSelection({ color: 'rgba(255, 179, 71, 0.22)' });
  regions.on('region-created', (region) => {
    for (const other of regions.getRegions()) if (other !== region) other.remove();
    selected = region;
    dragging = true; // the click that ends a drag selection must not also play from the start
    setTimeout(() => { dragging = false; }, 0);
    onSelect(selection());
  });
  regions.on('region-updated', () => onSelect(selection()));
  ws.on('click', () => { if (!dragging) onClick(); });

  function selection() {
    const duration = ws.getDuration();
    if (!selected || !duration || selected.isRemoved) return null;
    return { start: Math.max(0, selected.start / duration), end: Math.min(1, selected.end / duration) };
  }

  return {
    ws,
    async show(blob) {
      regions.clearRegions();
      selected = null;
      onSelect(null);
      await ws.loadBlob(blob);
      ws.setTime(0); // the cursor back at the start (it stays where the last playback left it)
    },
    selection,
    cursor(seconds) { ws.setTime(seconds); },
    select(start, end) { // fractions; what a drag on the waveform does
      const duration = ws.getDuration();
      regions.clearRegions();
      selected = regions.addRegion({ start: start * duration, end: end * duration, color: 'rgba(255, 179, 71, 0.22)' });
      onSelect(selection());
    },
  };
}
