import {
  DEFAULT_GENERATION_CONFIG,
  buildLogitsProcessors,
  generationConfigFromJson,
  makeGenerationConfig,
} from '../../src/generation/generation_config';
import {
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
} from '../../src/generation/logits_process';
import { TORTOISE_PRESETS, generationConfigFromPreset, resolvePreset } from '../../src/generation/presets';
import { EosStoppingTracker } from '../../src/generation/stopping_criteria';

describe('GenerationConfig', () => {
  it('has the transformers defaults', () => {
    expect(DEFAULT_GENERATION_CONFIG).toEqual({
      maxNewTokens: null,
      maxLength: 20,
      doSample: false,
      temperature: 1.0,
      topK: 50,
      topP: 1.0,
      repetitionPenalty: 1.0,
      numReturnSequences: 1,
      bosTokenId: null,
      eosTokenId: null,
      padTokenId: null,
      seed: null,
      minTokensToKeep: 1,
    });
  });

  it('reads a transformers generation_config.json', () => {
    const c = generationConfigFromJson({ bos_token_id: 62, eos_token_id: 63, max_new_tokens: 16, pad_token_id: 63, return_dict_in_generate: true });
    expect(c).toEqual({ bosTokenId: 62, eosTokenId: 63, maxNewTokens: 16, padTokenId: 63 });
  });

  it('validates', () => {
    expect(() => makeGenerationConfig({ doSample: true, temperature: 0 })).toThrow(/temperature.*doSample: false/);
    expect(() => makeGenerationConfig({ doSample: true, temperature: -1 })).toThrow(/temperature/);
    expect(() => makeGenerationConfig({ repetitionPenalty: 0 })).toThrow(/repetitionPenalty/);
    expect(() => makeGenerationConfig({ repetitionPenalty: -2 })).toThrow(/repetitionPenalty/);
    expect(() => makeGenerationConfig({ doSample: true, topP: 1.5 })).toThrow(/topP/);
    expect(() => makeGenerationConfig({ doSample: true, topK: -1 })).toThrow(/topK/);
    expect(() => makeGenerationConfig({ numReturnSequences: 0 })).toThrow(/numReturnSequences/);
    expect(() => makeGenerationConfig({ minTokensToKeep: 0 })).toThrow(/minTokensToKeep/);
    expect(() => makeGenerationConfig({ seed: -3 })).toThrow(/seed/);
    // temperature 0 is fine for greedy decoding (the warpers are not built)
    expect(makeGenerationConfig({ doSample: false, temperature: 0 }).temperature).toBe(0);
  });
});

describe('buildLogitsProcessors', () => {
  const kinds = (c: Parameters<typeof buildLogitsProcessors>[0]) => buildLogitsProcessors(c).processors.map((p) => p.kind);

  it('greedy with defaults: nothing', () => {
    expect(kinds({})).toEqual([]);
  });

  it('greedy keeps the repetition penalty only', () => {
    expect(kinds({ repetitionPenalty: 2, temperature: 0.5, topK: 5, topP: 0.5 })).toEqual(['repetition_penalty']);
  });

  it('sampling with defaults is top-50 sampling', () => {
    const list = buildLogitsProcessors({ doSample: true });
    expect(list.processors.map((p) => p.kind)).toEqual(['top_k']);
    expect((list.processors[0] as TopKLogitsWarper).topK).toBe(50);
  });

  it('orders repetition penalty, temperature, top-k, top-p', () => {
    const list = buildLogitsProcessors({ doSample: true, repetitionPenalty: 1.3, temperature: 0.9, topK: 10, topP: 0.85, minTokensToKeep: 2 });
    expect(list.processors.map((p) => p.kind)).toEqual(['repetition_penalty', 'temperature', 'top_k', 'top_p']);
    expect((list.processors[0] as RepetitionPenaltyLogitsProcessor).penalty).toBe(1.3);
    expect((list.processors[1] as TemperatureLogitsWarper).temperature).toBe(0.9);
    expect((list.processors[2] as TopKLogitsWarper).minTokensToKeep).toBe(2);
    expect((list.processors[3] as TopPLogitsWarper).topP).toBe(0.85);
  });

  it('skips no-op settings (temperature 1, top_k 0 / null, top_p 1 / null, penalty 1 / null)', () => {
    expect(kinds({ doSample: true, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 })).toEqual([]);
    expect(kinds({ doSample: true, topK: null, topP: null, repetitionPenalty: null })).toEqual([]);
  });

  it('sampling with temperature 0 or below fails clearly', () => {
    expect(() => buildLogitsProcessors({ doSample: true, temperature: 0 })).toThrow(/temperature/);
    expect(() => buildLogitsProcessors({ doSample: true, temperature: -0.1 })).toThrow(/temperature/);
  });
});

describe('Tortoise presets', () => {
  it('hold the values of tortoise/api.py tts_with_preset', () => {
    const shared = { temperature: 0.8, lengthPenalty: 1.0, repetitionPenalty: 2.0, topP: 0.8, topK: 50, maxMelTokens: 500, condFreeK: 2.0, diffusionTemperature: 1.0 };
    expect(TORTOISE_PRESETS.ultra_fast).toEqual({ ...shared, numAutoregressiveSamples: 16, diffusionIterations: 30, condFree: false });
    expect(TORTOISE_PRESETS.fast).toEqual({ ...shared, numAutoregressiveSamples: 96, diffusionIterations: 80, condFree: true });
    expect(TORTOISE_PRESETS.standard).toEqual({ ...shared, numAutoregressiveSamples: 256, diffusionIterations: 200, condFree: true });
    expect(TORTOISE_PRESETS.high_quality).toEqual({ ...shared, numAutoregressiveSamples: 256, diffusionIterations: 400, condFree: true });
  });

  it('are frozen and overridable by spreading', () => {
    expect(Object.isFrozen(TORTOISE_PRESETS.fast)).toBe(true);
    const mine = { ...TORTOISE_PRESETS.standard, topP: 0.9 };
    expect(mine.topP).toBe(0.9);
    expect(TORTOISE_PRESETS.standard.topP).toBe(0.8);
    expect(resolvePreset('ultra_fast', { numAutoregressiveSamples: 4 }).numAutoregressiveSamples).toBe(4);
    expect(resolvePreset().numAutoregressiveSamples).toBe(96);
    expect(() => resolvePreset('turbo' as never)).toThrow(/unknown Tortoise preset/);
  });

  it('map to generation settings that build the Tortoise processor chain', () => {
    const g = generationConfigFromPreset(resolvePreset('fast'));
    expect(g).toEqual({ doSample: true, temperature: 0.8, topK: 50, topP: 0.8, repetitionPenalty: 2.0, maxNewTokens: 500, numReturnSequences: 96 });
    expect(buildLogitsProcessors(g).processors.map((p) => p.kind)).toEqual(['repetition_penalty', 'temperature', 'top_k', 'top_p']);
  });
});

describe('EosStoppingTracker', () => {
  it('pads finished rows and stops when all rows are done', () => {
    const t = new EosStoppingTracker(3, { eosTokenId: 9, padTokenId: 8, maxNewTokens: 10 });
    expect(Array.from(t.step(Int32Array.from([1, 9, 2])))).toEqual([1, 9, 2]);
    expect(t.done).toBe(false);
    expect(Array.from(t.step(Int32Array.from([9, 3, 4])))).toEqual([9, 8, 4]);
    expect(Array.from(t.unfinished)).toEqual([0, 0, 1]);
    expect(Array.from(t.step(Int32Array.from([5, 5, 9])))).toEqual([8, 8, 9]);
    expect(t.done).toBe(true);
    expect(t.numGenerated).toBe(3);
  });

  it('uses eos as pad when no pad is set, and stops at maxNewTokens', () => {
    const t = new EosStoppingTracker(2, { eosTokenId: [7, 9], padTokenId: null, maxNewTokens: 2 });
    expect(Array.from(t.step(Int32Array.from([9, 1])))).toEqual([9, 1]);
    expect(Array.from(t.step(Int32Array.from([1, 1])))).toEqual([7, 1]);
    expect(t.done).toBe(true);
    expect(() => t.step(Int32Array.from([1, 1]))).toThrow(/maxNewTokens/);
  });

  it('never stops early without eos', () => {
    const t = EosStoppingTracker.fromConfig(1, { eosTokenId: null, padTokenId: null }, 1);
    expect(t.done).toBe(false);
    t.step(Int32Array.from([0]));
    expect(t.done).toBe(true);
  });
});
