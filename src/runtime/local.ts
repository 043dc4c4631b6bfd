// The runtime calls on one instance of the module tree, in this thread. It is the whole model
// without tensor parallelism, and one rank of it inside each tensor-parallel worker (its modules
// then hold the rank's slices and run the collectives): every call has this one implementation.
import * as tf from '@tensorflow/tfjs-core';
import { KVCache } from '../layers/kv_cache';
import { AttentionKernels } from '../layers/wasm_attention';
import { DecoderCache, TensorKVCache } from '../layers/tensor_kv_cache';
import { padExtraBosEosTokens } from '../models/conditioning_encoder';
import type { DecoderInputs } from '../models/clvp_decoder';
import { toHost, toTensor } from '../models/host';
import { ClvpModules } from '../models/modeling_clvp';
import type {
  CacheId, ClvpRuntime, ConditionCall, ConditionResult, ConditioningCall, DecoderCall, DecoderResult, EncoderCall, EncoderResult,
  HostTensor, InstanceMemory, PrefillCall,
} from './runtime';

export interface LocalRuntimeOptions {
  /**
   * Copy results to the host. Tensor-parallel ranks other than 0 compute every call (they take
   * part in its collectives) but return nothing.
   */
  returnResults?: boolean;
  /** Keep the decoder on the device, reading nothing back synchronously (default: on webgpu). */
  onDevice?: boolean;
}

/** Wait for a macrotask: lets abort signals, progress bars and worker messages run between steps. */
export const yieldToEventLoop = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

export class LocalRuntime implements ClvpRuntime {
  readonly tp: number;
  readonly logitScale: number;
  private readonly caches = new Map<CacheId, { cache: DecoderCache; prefixOf?: CacheId; forks: number }>();
  /**
   * The decoder's stream and KV cache stay on the device and nothing is read back synchronously:
   * tfjs-webgpu has no synchronous buffer map (its dataSync copies through a WebGPU canvas, slow,
   * and on Chromium 156.0.8078.114 with SwiftShader it loses the device). Elsewhere the host
   * stream and our wasm attention kernels are faster.
   */
  private readonly onDevice: boolean;
  private nextId = 1;
  private readonly returnResults: boolean;

  constructor(readonly modules: ClvpModules, readonly backend: string = tf.getBackend(), opts: LocalRuntimeOptions = {}) {
    this.tp = modules.src.parallel.size;
    this.logitScale = modules.logit_scale.dataSync()[0];
    this.returnResults = opts.returnResults ?? true;
    this.onDevice = opts.onDevice ?? backend === 'webgpu';
  }

  private newKVCache(chunkSize: number): DecoderCache {
    const layers = this.config.decoderConfig.numHiddenLayers;
    return this.onDevice ? new TensorKVCache(layers) : new KVCache(layers, chunkSize);
  }

  /** The last position's logits [B, vocab] of a decoder pass on the host (on the device, read asynchronously). */
  private async lastLogits(inputs: DecoderInputs): Promise<Float32Array> {
    const lm = this.modules.speech_decoder_model;
    if (!this.onDevice) return lm.lastLogits(inputs);
    const t = lm.lastLogitsOnDevice(inputs);
    try {
      return (await t.data()) as Float32Array;
    } finally {
      t.dispose();
    }
  }

  get config() {
    return this.modules.config;
  }

  private host(t: tf.Tensor): Promise<HostTensor> {
    return this.returnResults ? toHost(t) : Promise.resolve({ dtype: 'float32', shape: t.shape.slice(), data: new Float32Array(0) });
  }

  private async hostAll(ts: tf.Tensor[] | undefined): Promise<HostTensor[] | undefined> {
    if (!ts) return undefined;
    const out: HostTensor[] = [];
    for (const t of ts) out.push(await this.host(t));
    return out;
  }

  private entry(id: CacheId) {
    const e = this.caches.get(id);
    if (!e) throw new Error(`runtime: no KV cache with id ${id} (released already?)`);
    return e;
  }

  private register(cache: DecoderCache, prefixOf?: CacheId): CacheId {
    const id = this.nextId++;
    this.caches.set(id, { cache, prefixOf, forks: 0 });
    return id;
  }

  async encoder(call: EncoderCall): Promise<EncoderResult> {
    const enc = call.which === 'text' ? this.modules.text_encoder_model : this.modules.speech_encoder_model;
    const out = enc.forward({ inputIds: call.ids, attentionMask: call.mask, outputHiddenStates: call.hiddenStates, outputAttentions: call.attentions });
    try {
      return {
        embeds: await this.host(out.embeds),
        poolerOutput: await this.host(out.poolerOutput),
        lastHiddenState: call.lastHiddenState ? await this.host(out.lastHiddenState) : undefined,
        hiddenStates: await this.hostAll(out.hiddenStates),
        attentions: await this.hostAll(out.attentions),
      };
    } finally {
      tf.dispose([out.embeds, out.poolerOutput, out.lastHiddenState, ...(out.hiddenStates ?? []), ...(out.attentions ?? [])]);
    }
  }

  async conditioningEncoder(call: ConditioningCall): Promise<HostTensor> {
    const features = toTensor(call.features) as tf.Tensor3D;
    try {
      const out = this.modules.conditioning_encoder.forward({ inputFeatures: features, inputIds: call.ids, attentionMask: call.mask });
      try {
        return await this.host(out);
      } finally {
        out.dispose();
      }
    } finally {
      features.dispose();
    }
  }

  async condition(call: ConditionCall): Promise<ConditionResult> {
    const m = this.modules;
    const ce = m.conditioning_encoder;
    const tc = m.config.textConfig;
    const features = toTensor(call.features) as tf.Tensor3D;
    let conditioning: tf.Tensor3D;
    let decoderInputs: tf.Tensor3D;
    try {
      [conditioning, decoderInputs] = tf.tidy(() => {
        let cond: tf.Tensor3D;
        if (call.averageClips) {
          // One voice vector: the mean over clips (Tortoise's get_conditioning_latents), for every text.
          const withBos = padExtraBosEosTokens(call.ids, call.mask, { bosTokenId: tc.bosTokenId, eosTokenId: tc.eosTokenId });
          const mel = tf.mean(ce.melVector(features), 0, true);
          const text = ce.textEmbeds(withBos.ids, withBos.mask!);
          cond = tf.concat([tf.tile(mel, [text.shape[0], 1, 1]), text], 1) as tf.Tensor3D;
        } else {
          cond = ce.forward({ inputFeatures: features, inputIds: call.ids, attentionMask: call.mask });
        }
        return [cond, this.decoderInputsEmbeds(cond)];
      });
    } finally {
      features.dispose();
    }
    try {
      return { conditioning: await this.host(conditioning), decoderInputs: await this.host(decoderInputs) };
    } finally {
      conditioning.dispose();
      decoderInputs.dispose();
    }
  }

  /** concat(conditioning, embed(bos) + pos(0)) - pos(0..L) (ClvpForCausalLM._prepare_model_inputs). */
  private decoderInputsEmbeds(conditioning: tf.Tensor3D): tf.Tensor3D {
    const dec = this.modules.speech_decoder_model.model.decoder;
    const [b, l] = conditioning.shape;
    const bos = this.config.decoderConfig.bosTokenId;
    return tf.tidy(() => {
      const start = tf.add(dec.input_embeds_layer.apply(new Int32Array(b).fill(bos), [b, 1]), dec.position_embeds_layer.apply(new Int32Array(1), [1, 1]));
      const all = tf.concat([conditioning, start], 1);
      const pos = Int32Array.from({ length: l + 1 }, (_, i) => i);
      return tf.sub(all, dec.position_embeds_layer.apply(pos, [1, l + 1])) as tf.Tensor3D;
    });
  }

  async decoder(call: DecoderCall): Promise<DecoderResult> {
    const lm = this.modules.speech_decoder_model;
    const embeds = call.embeds ? (toTensor(call.embeds) as tf.Tensor3D) : undefined;
    const cache = call.cache !== undefined ? this.entry(call.cache).cache : undefined;
    try {
      const out = lm.forward({ inputIds: call.ids, inputsEmbeds: embeds, attentionMask: call.mask, positionIds: call.positionIds, cache, onDevice: this.onDevice, outputHiddenStates: call.hiddenStates });
      try {
        const result: DecoderResult = { logits: await this.host(out.logits), hiddenStates: await this.hostAll(out.hiddenStates) };
        if (call.present) {
          if (!cache) throw new Error('runtime.decoder: present needs a cache');
          const p = this.modules.src.parallel;
          result.present = [];
          for (let i = 0; i < lm.config.numHiddenLayers; i++) {
            const { key, value } = cache.legacy(i);
            // Each rank caches its own heads: gather them in head order.
            try {
              const [k, v] = p.size > 1 ? tf.tidy(() => [p.allGather(key, 1), p.allGather(value, 1)]) : [key, value];
              try {
                result.present.push({ key: await this.host(k), value: await this.host(v) });
              } finally {
                tf.dispose([k, v]);
              }
            } finally {
              tf.dispose([key, value]);
            }
          }
        }
        return result;
      } finally {
        tf.dispose([out.logits, out.lastHiddenState, ...(out.hiddenStates ?? [])]);
      }
    } finally {
      embeds?.dispose();
    }
  }

  async newCache(chunkSize: number): Promise<CacheId> {
    return this.register(this.newKVCache(chunkSize));
  }

  async prefill(call: PrefillCall): Promise<{ cache: CacheId; logits: Float32Array }> {
    const cache = this.newKVCache(call.chunkSize);
    const embeds = toTensor(call.embeds) as tf.Tensor3D;
    try {
      const logits = await this.lastLogits({ inputsEmbeds: embeds, positionIds: call.positionIds, cache, onDevice: this.onDevice });
      if (call.share) cache.shareAsPrefix();
      return { cache: this.register(cache), logits: this.returnResults ? logits : new Float32Array(0) };
    } catch (e) {
      cache.dispose();
      throw e;
    } finally {
      embeds.dispose();
    }
  }

  async fork(prefix: CacheId): Promise<CacheId> {
    const e = this.entry(prefix);
    const id = this.register(e.cache.forkSharedPrefix(), prefix);
    e.forks++;
    return id;
  }

  async gatherRows(cache: CacheId, indices: Int32Array): Promise<void> {
    this.entry(cache).cache.gatherRows(indices);
  }

  async step(cache: CacheId, ids: Int32Array, position: number): Promise<Float32Array> {
    const logits = await this.lastLogits({
      inputIds: { data: ids, shape: [ids.length, 1] },
      positionIds: { data: Int32Array.of(position), shape: [1, 1] },
      cache: this.entry(cache).cache,
      onDevice: this.onDevice,
    });
    return this.returnResults ? logits : new Float32Array(0);
  }

  async releaseCache(id: CacheId): Promise<void> {
    const e = this.caches.get(id);
    if (!e) return;
    // A shared prefix is owned by the cache it was made in, and its forks read it: it goes last.
    if (e.forks > 0) throw new Error(`runtime: KV cache ${id} is the shared prefix of ${e.forks} live fork(s): release them first`);
    e.cache.dispose();
    this.caches.delete(id);
    if (e.prefixOf !== undefined) {
      const p = this.caches.get(e.prefixOf);
      if (p) p.forks--;
    }
  }

  async memory(): Promise<InstanceMemory[]> {
    const m = tf.memory();
    const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
    return [{ rank: this.modules.src.parallel.rank, numTensors: m.numTensors, numBytes: m.numBytes, heapBytes: wasm ? wasm.HEAPU8.length : null, kvCachePeakBytes: AttentionKernels.existing()?.highWaterBytes ?? 0, parameters: this.modules.numParameters() }];
  }

  /** Live KV caches (for tests). */
  get liveCaches(): number {
    return this.caches.size;
  }

  async dispose(): Promise<void> {
    for (const { cache } of this.caches.values()) cache.dispose();
    this.caches.clear();
    this.modules.dispose();
  }
}
