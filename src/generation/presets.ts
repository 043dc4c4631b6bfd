// Tortoise TTS generation presets, as plain objects: spread user settings over them to override.
//
// Source: neonbjb/tortoise-tts, tortoise/api.py at commit 8a2563ecabe93c4fb626f876dd0c52c966edef2f
// (TextToSpeech.tts_with_preset):
//   l.320  settings = {'temperature': .8, 'length_penalty': 1.0, 'repetition_penalty': 2.0,
//   l.321              'top_p': .8,
//   l.322              'cond_free_k': 2.0, 'diffusion_temperature': 1.0}
//   l.325  'ultra_fast': {'num_autoregressive_samples': 16, 'diffusion_iterations': 30, 'cond_free': False},
//   l.326  'fast': {'num_autoregressive_samples': 96, 'diffusion_iterations': 80},
//   l.327  'standard': {'num_autoregressive_samples': 256, 'diffusion_iterations': 200},
//   l.328  'high_quality': {'num_autoregressive_samples': 256, 'diffusion_iterations': 400},
// and the TextToSpeech.tts defaults for what the presets leave unset (l.337 / l.341):
//   max_mel_tokens=500, cond_free=True (and, when tts() is called directly without a preset,
//   num_autoregressive_samples=512, diffusion_iterations=100).
// tts() always samples (do_sample=True, l.416-424) through autoregressive.inference_speech, which
// calls HF generate without a top_k (tortoise/models/autoregressive.py l.560-562: only bos/pad/eos,
// max_length, logits_processor, num_return_sequences and the forwarded kwargs), so the transformers
// GenerationConfig default top_k = 50 applies: Tortoise samples top-50 + top-p 0.8.
// max_length = trunc_index + max_generate_length (autoregressive.py l.559), trunc_index counting the
// conditioning/text positions and the start mel token, so max_mel_tokens is the number of new tokens.
// length_penalty only affects beam search in transformers, so it has no effect on sampling; it is
// kept for completeness.
import type { GenerationConfig } from './generation_config';

export type TortoisePresetName = 'ultra_fast' | 'fast' | 'standard' | 'high_quality';

export interface TortoiseSettings {
  /** Candidates sampled from the autoregressive decoder, then ranked by CLVP. */
  numAutoregressiveSamples: number;
  /** Sampling temperature of the autoregressive decoder. */
  temperature: number;
  /** Beam-search length penalty (no effect when sampling). */
  lengthPenalty: number;
  /** Repetition penalty of the autoregressive decoder. */
  repetitionPenalty: number;
  /** Nucleus sampling mass. */
  topP: number;
  /** Top-k (the transformers default Tortoise inherits). */
  topK: number;
  /** New speech tokens at most (each is 1/20 s of audio). */
  maxMelTokens: number;
  /** Diffusion steps (used by the diffusion decoder, not by CLVP). */
  diffusionIterations: number;
  /** Conditioning-free diffusion on/off. */
  condFree: boolean;
  /** Conditioning-free guidance weight. */
  condFreeK: number;
  /** Noise scale of the diffusion sampler. */
  diffusionTemperature: number;
}

/** Tortoise's tuned settings shared by every preset (api.py l.320-322, tts() defaults l.337/l.341). */
export const TORTOISE_BASE_SETTINGS: Readonly<Omit<TortoiseSettings, 'numAutoregressiveSamples' | 'diffusionIterations'>> = Object.freeze({
  temperature: 0.8,
  lengthPenalty: 1.0,
  repetitionPenalty: 2.0,
  topP: 0.8,
  topK: 50,
  maxMelTokens: 500,
  condFree: true,
  condFreeK: 2.0,
  diffusionTemperature: 1.0,
});

function preset(p: Partial<TortoiseSettings>): Readonly<TortoiseSettings> {
  return Object.freeze({ ...TORTOISE_BASE_SETTINGS, ...p } as TortoiseSettings);
}

/** The four presets of tts_with_preset (api.py l.325-328) over the base settings. */
export const TORTOISE_PRESETS: Readonly<Record<TortoisePresetName, Readonly<TortoiseSettings>>> = Object.freeze({
  ultra_fast: preset({ numAutoregressiveSamples: 16, diffusionIterations: 30, condFree: false }),
  fast: preset({ numAutoregressiveSamples: 96, diffusionIterations: 80 }),
  standard: preset({ numAutoregressiveSamples: 256, diffusionIterations: 200 }),
  high_quality: preset({ numAutoregressiveSamples: 256, diffusionIterations: 400 }),
});

/** Tortoise's own default preset name (tts_with_preset(preset='fast')). */
export const DEFAULT_TORTOISE_PRESET: TortoisePresetName = 'fast';

/** A preset with `overrides` spread over it (like tts_with_preset's settings.update(kwargs)). */
export function resolvePreset(name: TortoisePresetName = DEFAULT_TORTOISE_PRESET, overrides: Partial<TortoiseSettings> = {}): TortoiseSettings {
  const base = TORTOISE_PRESETS[name];
  if (!base) throw new RangeError(`unknown Tortoise preset '${String(name)}' (known: ${Object.keys(TORTOISE_PRESETS).join(', ')})`);
  return { ...base, ...overrides };
}

/**
 * The generation settings of the speech decoder for Tortoise settings: always sampling, with the
 * preset's temperature / top-p / top-k / repetition penalty, maxNewTokens = maxMelTokens and
 * numReturnSequences = numAutoregressiveSamples (the total number of candidates; Tortoise draws
 * them in num_autoregressive_samples // autoregressive_batch_size batches, api.py l.407, which does
 * not change the distribution of each candidate).
 * Spread further settings (seed, token ids) over the result.
 */
export function generationConfigFromPreset(settings: TortoiseSettings): Partial<GenerationConfig> {
  return {
    doSample: true,
    temperature: settings.temperature,
    topK: settings.topK,
    topP: settings.topP,
    repetitionPenalty: settings.repetitionPenalty,
    maxNewTokens: settings.maxMelTokens,
    numReturnSequences: settings.numAutoregressiveSamples,
  };
}
