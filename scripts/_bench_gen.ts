import { buildLogitsProcessors } from '../src/generation/generation_config';
import { softmaxF32 } from '../src/generation/logits_process';
import { Sampler } from '../src/generation/sampling';
const B = 64, V = 8194;
const scores = new Float32Array(B * V); for (let i = 0; i < scores.length; i++) scores[i] = (Math.random() - 0.5) * 20;
const ids = Array.from({ length: B }, () => Int32Array.from({ length: 500 }, () => Math.floor(Math.random() * V)));
function t(name: string, f: () => void, n = 10) { f(); const t0 = performance.now(); for (let i = 0; i < n; i++) f(); console.log(name, ((performance.now() - t0) / n).toFixed(2), 'ms'); }
const tort = buildLogitsProcessors({ doSample: true, temperature: 0.8, topP: 0.8, repetitionPenalty: 2, topK: 50 });
const noK = buildLogitsProcessors({ doSample: true, temperature: 0.8, topP: 0.8, repetitionPenalty: 2, topK: 0 });
t('tortoise chain', () => tort.process(ids, scores, B, V));
t('chain without top-k', () => noK.process(ids, scores, B, V));
t('softmaxF32', () => softmaxF32(scores, B, V));
const s = new Sampler(1); const proc = tort.process(ids, scores, B, V);
t('sampleScores', () => s.sampleScores(proc, B, V));
