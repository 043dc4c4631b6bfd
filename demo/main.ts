// The clvp-tfjs demo page (npm run demo): pick a model, a voice and a text, generate speech-token
// candidates with Tortoise's ultra_fast settings, and show them ranked by CLVP, with a chart of
// their scores. Every failure is shown in the page as one message.
import {
  BrowserVoice, disposeOutput, generationConfigFromPreset, initBackend, loadClvp, LoadedClvp, ModelInput,
  prepareVoice, RankResult, resolvePreset, voiceFromFile, voiceFromMicrophone,
} from '../src/browser';

/** A mistake in the form. */
class UserError extends Error {}

const BUNDLED_MODEL = 'models/clvp-random-small/';
const EXAMPLE_VOICE = 'examples/voice.wav';

const el = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const form = el<HTMLFormElement>('job');
const generateButton = el<HTMLButtonElement>('generate');
const cancelButton = el<HTMLButtonElement>('cancel');
const progress = el<HTMLProgressElement>('progress');
const status = el('status');
const errorBox = el('error');
const results = el('results');

/** The value of the checked radio button of a group, and a way to check one. */
const checked = (group: string) => (form.querySelector(`input[name=${group}]:checked`) as HTMLInputElement).value;
const check = (group: string, value: string) => ((form.querySelector(`input[name=${group}][value=${value}]`) as HTMLInputElement).checked = true);

/** The library's messages name the file or URL and say what is wrong: shown without a stack. */
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function showError(e: unknown): void {
  errorBox.textContent = message(e);
  errorBox.hidden = false;
  console.warn(e);
}

function setStatus(text: string, fraction?: number): void {
  status.textContent = text;
  if (fraction === undefined) progress.removeAttribute('value');
  else progress.value = Math.max(0, Math.min(1, fraction));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// --- the model -------------------------------------------------------------------------------

let folderPicks = 0;
el<HTMLInputElement>('model-folder').addEventListener('change', () => {
  folderPicks++;
  check('model', 'folder');
  updateNote();
});
el<HTMLInputElement>('model-url').addEventListener('input', () => {
  check('model', 'url');
  updateNote();
});
form.querySelectorAll('input[name=model]').forEach((r) => r.addEventListener('change', updateNote));

function updateNote(): void {
  el('random-note').hidden = checked('model') !== 'bundled';
}

function modelChoice(): { key: string; input: ModelInput; name: string } {
  switch (checked('model')) {
    case 'url': {
      const url = el<HTMLInputElement>('model-url').value.trim();
      if (!url) throw new UserError('Enter the URL of a model folder (the folder holding config.json and model.safetensors).');
      return { key: `url:${url}`, input: url, name: url };
    }
    case 'folder': {
      const files = el<HTMLInputElement>('model-folder').files;
      if (!files || files.length === 0) throw new UserError('Pick the model folder (the one holding config.json and model.safetensors).');
      return { key: `folder:${folderPicks}`, input: files, name: files[0].webkitRelativePath.split('/')[0] || 'picked folder' };
    }
    default:
      return { key: 'bundled', input: BUNDLED_MODEL, name: 'the bundled model (random weights)' };
  }
}

/** 'auto': the library's automatic choice (it passes over GPU backends on a software device); else exactly the one asked for. */
async function chooseBackend(choice: string): Promise<string> {
  return initBackend(choice);
}

let loaded: { key: string; clvp: LoadedClvp } | undefined;

async function getModel(signal: AbortSignal): Promise<{ clvp: LoadedClvp; backend: string; ms: number; reused: boolean }> {
  const t0 = performance.now();
  const choice = modelChoice();
  const backend = await chooseBackend(el<HTMLSelectElement>('backend').value);
  const tp = Number(el<HTMLSelectElement>('tp').value);
  if (tp > 1 && !crossOriginIsolated) throw new UserError('Tensor-parallel workers need a cross-origin isolated page (served with COOP/COEP, as npm run demo does).');
  const key = `${choice.key}|${backend}|${tp}`;
  if (loaded?.key === key) return { clvp: loaded.clvp, backend, ms: 0, reused: true };
  const old = loaded;
  loaded = undefined;
  await old?.clvp.model.dispose();
  const downloads = new Map<string, { loaded: number; total: number | null }>();
  setStatus(`loading ${choice.name} on ${backend} ...`, 0);
  const clvp = await loadClvp(choice.input, {
    backend,
    tp,
    signal,
    onProgress: (p) => {
      if (p.phase === 'download') {
        downloads.set(p.download.file, { loaded: p.download.loaded, total: p.download.total });
        const got = [...downloads.values()].reduce((n, d) => n + d.loaded, 0);
        const want = [...downloads.values()].reduce((n, d) => n + (d.total ?? d.loaded), 0);
        setStatus(`downloading ${p.download.file}: ${(got / 1e6).toFixed(1)} of ${(want / 1e6).toFixed(1)} MB`, want ? (0.5 * got) / want : undefined);
      } else {
        setStatus(`loading weights: ${p.load.tensors} of ${p.load.totalTensors} tensors`, 0.5 + (0.5 * p.load.tensors) / Math.max(1, p.load.totalTensors));
      }
    },
  });
  loaded = { key, clvp };
  return { clvp, backend, ms: performance.now() - t0, reused: false };
}

// --- the voice -------------------------------------------------------------------------------

let recorded: BrowserVoice | undefined;
let recording: AbortController | undefined;
const recordButton = el<HTMLButtonElement>('record');
const stopButton = el<HTMLButtonElement>('stop-record');
const voiceStatus = el('voice-status');

recordButton.addEventListener('click', () => {
  check('voice', 'mic');
  errorBox.hidden = true;
  recording = new AbortController();
  recordButton.disabled = true;
  stopButton.disabled = false;
  voiceStatus.textContent = 'recording (at most 30 s) ... press Stop when done';
  voiceFromMicrophone({ maxSeconds: 30, signal: recording.signal, onLevel: (peak) => (el<HTMLMeterElement>('level').value = peak) })
    .then((v) => {
      recorded = v;
      voiceStatus.textContent = `recorded ${(v.samples.length / v.sampleRate).toFixed(1)} s at ${v.originalRate} Hz, resampled to ${v.sampleRate} Hz`;
    })
    .catch((e) => {
      voiceStatus.textContent = '';
      showError(e);
    })
    .finally(() => {
      recordButton.disabled = false;
      stopButton.disabled = true;
      el<HTMLMeterElement>('level').value = 0;
    });
});
stopButton.addEventListener('click', () => recording?.abort());

el<HTMLInputElement>('voice-file').addEventListener('change', () => {
  check('voice', 'file');
});

async function getVoice(rate: number, signal: AbortSignal): Promise<BrowserVoice> {
  let voice: BrowserVoice;
  switch (checked('voice')) {
    case 'file': {
      const file = el<HTMLInputElement>('voice-file').files?.[0];
      if (!file) throw new UserError('Pick a voice file (WAV, MP3, Ogg, FLAC or M4A).');
      voice = await voiceFromFile(file, { targetRate: rate });
      break;
    }
    case 'mic':
      if (!recorded) throw new UserError('Record your voice first: press Record, speak, then Stop.');
      voice = recorded.sampleRate === rate ? recorded : { ...recorded, ...prepareVoice(recorded.samples, recorded.sampleRate, 'microphone', { targetRate: rate }) };
      break;
    default: {
      let res: Response;
      try {
        res = await fetch(EXAMPLE_VOICE, { signal });
      } catch (e) {
        throw new Error(`${EXAMPLE_VOICE}: could not be fetched (${message(e)})`);
      }
      if (!res.ok) throw new Error(`${EXAMPLE_VOICE}: HTTP ${res.status}`);
      voice = await voiceFromFile(new Uint8Array(await res.arrayBuffer()), { name: 'voice.wav', targetRate: rate });
    }
  }
  voiceStatus.textContent = `${voice.source}: ${(voice.samples.length / voice.sampleRate).toFixed(1)} s, ${voice.container}, ${voice.originalRate} Hz resampled to ${voice.sampleRate} Hz${voice.note ? ` (${voice.note})` : ''}`;
  return voice;
}

// --- the job ---------------------------------------------------------------------------------

function integer(id: string, what: string, min: number, max: number): number {
  const x = Number(el<HTMLInputElement>(id).value);
  if (!Number.isInteger(x) || x < min || x > max) throw new UserError(`${what} must be a whole number from ${min} to ${max}.`);
  return x;
}

let running: AbortController | undefined;

async function generate(): Promise<void> {
  errorBox.hidden = true;
  results.hidden = true;
  const controller = new AbortController();
  running = controller;
  generateButton.disabled = true;
  cancelButton.disabled = false;
  const t0 = performance.now();
  try {
    const text = el<HTMLTextAreaElement>('text').value.trim();
    if (!text) throw new UserError('Enter a text to speak.');
    const numCandidates = integer('candidates', 'Candidates', 1, 256);
    const maxNewTokens = integer('max-tokens', 'Max new tokens', 1, 600);
    const seed = integer('seed', 'Seed', 0, 2 ** 31 - 1);

    const { clvp, backend, ms: loadMs, reused } = await getModel(controller.signal);
    const { model, processor } = clvp;
    const rate = processor.featureExtractor.config.samplingRate;
    const t1 = performance.now();
    const voice = await getVoice(rate, controller.signal);
    const inputs = processor.call({ text, rawSpeech: [voice.samples], samplingRate: rate });
    const voiceMs = performance.now() - t1;
    try {
      // Only spaces and unknown tokens left (emoji, other scripts: the normaliser keeps ASCII).
      if (processor.decode(Array.from(inputs.inputIds!.dataSync())).trim() === '') throw new UserError('The text has nothing to speak: no words are left once it is normalised (characters outside ASCII are dropped).');
      setStatus(`generating on ${backend} ...`, 0);
      const t2 = performance.now();
      const ranked = await model.rankCandidates({ inputIds: inputs.inputIds!, inputFeatures: inputs.inputFeatures! }, {
        ...generationConfigFromPreset(resolvePreset('ultra_fast')),
        numCandidates,
        maxNewTokens,
        seed,
        signal: controller.signal,
        onProgress: (p) => setStatus(
          `batch ${p.batch + 1} of ${p.numBatches}: token ${p.step} of ${p.maxNewTokens}, ${p.unfinished} candidates still going`,
          (p.batch + p.step / p.maxNewTokens) / p.numBatches,
        ),
      });
      const genMs = performance.now() - t2;
      showResults(ranked, [
        `${ranked.candidates.length} candidates from ${modelChoice().name}`,
        `backend ${backend}${model.tp > 1 ? ` on ${model.tp} tensor-parallel workers` : ''}`,
        `model ${reused ? 'already loaded' : `loaded in ${seconds(loadMs)}`}`,
        `voice ${seconds(voiceMs)}`,
        `generation ${seconds(genMs)} (batches of ${ranked.batchSize})`,
      ].join(' · '));
      setStatus(`done in ${seconds(performance.now() - t0)} on ${backend}`, 1);
    } finally {
      disposeOutput(inputs);
    }
  } catch (e) {
    // Cancelled while loading, the error may be the folder's (a fetch aborted): still a cancellation.
    if (controller.signal.aborted || (e as Error)?.name === 'AbortError') setStatus(`Cancelled after ${seconds(performance.now() - t0)}: no candidates.`, 0);
    else {
      setStatus('', 0);
      showError(e);
    }
  } finally {
    running = undefined;
    generateButton.disabled = false;
    cancelButton.disabled = true;
    // Finished runs, for whoever drives the page (the browser tests).
    form.dataset.runs = String(Number(form.dataset.runs ?? '0') + 1);
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!running) void generate();
});
cancelButton.addEventListener('click', () => {
  running?.abort();
  setStatus('cancelling ...');
});

// --- the results -----------------------------------------------------------------------------

function showResults(r: RankResult, summary: string): void {
  el('summary').textContent = summary;
  const body = el('ranked').querySelector('tbody')!;
  body.replaceChildren(...r.candidates.map((c, rank) => {
    const tr = document.createElement('tr');
    const ids = c.speechIds.slice(0, 8).join(' ') + (c.speechIds.length > 8 ? ' …' : '');
    for (const v of [rank + 1, c.index, c.score.toFixed(4), c.length, c.finished ? 'yes' : 'no', ids]) {
      const td = document.createElement('td');
      td.textContent = String(v);
      tr.append(td);
    }
    return tr;
  }));
  el('chart').replaceChildren(scoreChart(r.candidates.map((c) => ({ label: String(c.index), value: c.score }))));
  results.hidden = false;
}

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Bars of the scores, best first, from a zero line (scores can be negative); candidate index below each. */
function scoreChart(bars: Array<{ label: string; value: number }>): SVGSVGElement {
  const W = 900;
  const H = 190;
  const left = 44;
  const top = 10;
  const plotH = H - top - 34;
  const hi = Math.max(0, ...bars.map((b) => b.value));
  const lo = Math.min(0, ...bars.map((b) => b.value));
  const span = hi - lo || 1;
  const y = (v: number) => top + ((hi - v) / span) * plotH;
  const step = (W - left - 8) / bars.length;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'CLVP scores of the candidates, best first' });
  bars.forEach((b, i) => {
    const x = left + i * step + step * 0.15;
    const y0 = y(Math.max(0, b.value));
    const bar = svg('rect', { class: i === 0 ? 'bar best' : 'bar', x, y: y0, width: step * 0.7, height: Math.max(1, Math.abs(y(b.value) - y(0))) });
    bar.append(svg('title', {}, `candidate ${b.label}: ${b.value.toFixed(4)}`));
    root.append(bar);
    if (bars.length <= 64) root.append(svg('text', { x: x + step * 0.35, y: H - 18, 'text-anchor': 'middle' }, b.label));
  });
  root.append(svg('line', { class: 'axis', x1: left, x2: W - 4, y1: y(0), y2: y(0) }));
  for (const v of [hi, 0, lo]) root.append(svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, v.toFixed(2)));
  root.append(svg('text', { x: left, y: H - 3 }, 'candidate index, ranked by score'));
  return root;
}

// Anything that escapes the handlers above still reaches the page, not only the console.
window.addEventListener('unhandledrejection', (e) => showError(e.reason));
window.addEventListener('error', (e) => showError(e.error ?? e.message));
updateNote();
setStatus('ready', 0);
