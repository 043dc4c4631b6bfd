// The one interface between a CLVP model and everything that drives it (generation, ranking, the
// public model class, parity): a handful of calls on host data, with KV caches kept inside the
// runtime under ids. A single tfjs instance (LocalRuntime) and a pool of tensor-parallel workers
// (TensorParallelRuntime) both implement it, so every caller runs unchanged on either.
import type { ClvpConfig } from '../config/configuration_clvp';
import type { ModelFolder } from '../io/folder';
import type { HostTensor } from '../io/safetensors';
import type { HostIds } from '../models/ids';

export type { HostTensor } from '../io/safetensors';

/** Rejection of a call whose AbortSignal fired (generation, ranking, a long encoder call). */
export class AbortError extends Error {
  override name = 'AbortError';
}

/** Position ids [B or 1, T or 1] (broadcast like torch). */
export interface HostPositionIds {
  data: Int32Array;
  shape: [number, number];
}

export type CacheId = number;

export interface EncoderCall {
  which: 'text' | 'speech';
  ids: HostIds;
  mask?: HostIds;
  /** what to return besides the embeddings and the pooled output */
  lastHiddenState?: boolean;
  hiddenStates?: boolean;
  attentions?: boolean;
}

export interface EncoderResult {
  /** the projection of the pooled output [B, projection_dim], not normalised */
  embeds: HostTensor;
  /** mean over positions [B, hidden] */
  poolerOutput: HostTensor;
  lastHiddenState?: HostTensor;
  hiddenStates?: HostTensor[];
  attentions?: HostTensor[];
}

/** ClvpConditioningEncoder.forward: it adds the text bos/eos itself. */
export interface ConditioningCall {
  /** [B or 1, feature_size, frames] */
  features: HostTensor;
  ids: HostIds;
  mask?: HostIds;
}

/** The first half of generation: conditioning embeddings and the decoder's first inputs. */
export interface ConditionCall {
  features: HostTensor;
  /** text ids with the text eos already inserted (padExtraBosEosTokens without bos), and their mask */
  ids: HostIds;
  mask: HostIds;
  /** one voice vector averaged over all clips (Tortoise) instead of one per clip */
  averageClips: boolean;
}

export interface ConditionResult {
  /** [B, 1 + T + 2, hidden] */
  conditioning: HostTensor;
  /** concat(conditioning, embed(bos) + pos(0)) - pos(0..L) [B, L + 1, hidden] */
  decoderInputs: HostTensor;
}

export interface DecoderCall {
  ids?: HostIds;
  /** [B, T, hidden] in place of ids */
  embeds?: HostTensor;
  /** 2D padding mask over past + new positions */
  mask?: HostIds;
  positionIds?: HostPositionIds;
  /** append to this cache and attend to it */
  cache?: CacheId;
  hiddenStates?: boolean;
  /** also return the cache as HF's legacy (key, value) per layer, [B, heads, length, head_dim] */
  present?: boolean;
}

export interface DecoderResult {
  /** [B, T, vocab] */
  logits: HostTensor;
  hiddenStates?: HostTensor[];
  present?: Array<{ key: HostTensor; value: HostTensor }>;
}

export interface PrefillCall {
  /** decoder inputs of the distinct rows [U, L, hidden] */
  embeds: HostTensor;
  positionIds: HostPositionIds;
  /** keep the (batch-1) prefill as a prefix shared by every row of later forks */
  share: boolean;
  /** positions per KV-cache chunk */
  chunkSize: number;
}

export interface InstanceMemory {
  /** tensor-parallel rank (0 for a single instance) */
  rank: number;
  numTensors: number;
  numBytes: number;
  /** the wasm heap, when the backend is wasm */
  heapBytes: number | null;
  /**
   * The most the KV caches of this instance have held at once, in the attention kernels' own
   * memory (beside the heap): 0 where no cache lived there (a device-side cache, or none yet).
   */
  kvCachePeakBytes: number;
  /** parameters this instance holds */
  parameters: number;
}

export interface ClvpRuntime {
  readonly config: ClvpConfig;
  /** exp() of this is the contrastive temperature */
  readonly logitScale: number;
  /** tensor-parallel ranks (1: a single instance) */
  readonly tp: number;
  /** the backend the instances compute on */
  readonly backend: string;
  encoder(call: EncoderCall, signal?: AbortSignal): Promise<EncoderResult>;
  conditioningEncoder(call: ConditioningCall): Promise<HostTensor>;
  condition(call: ConditionCall): Promise<ConditionResult>;
  decoder(call: DecoderCall): Promise<DecoderResult>;
  /** An empty KV cache (for decoder calls). */
  newCache(chunkSize: number): Promise<CacheId>;
  /** Run the decoder over the inputs into a new cache; logits of the last position [U, vocab]. */
  prefill(call: PrefillCall): Promise<{ cache: CacheId; logits: Float32Array }>;
  /** A cache attending to a shared prefix (no copy), with no positions of its own yet. */
  fork(prefix: CacheId): Promise<CacheId>;
  /** Rebuild a cache from rows `indices` of its batch (prefixes copied to their candidates). */
  gatherRows(cache: CacheId, indices: Int32Array): Promise<void>;
  /** One decode step: the newest token of each row at `position`; logits [B, vocab]. */
  step(cache: CacheId, ids: Int32Array, position: number, signal?: AbortSignal): Promise<Float32Array>;
  releaseCache(cache: CacheId): Promise<void>;
  memory(): Promise<InstanceMemory[]>;
  dispose(): Promise<void>;
}

/** What to build a model from; tensor-parallel workers rebuild their rank from it. */
export type ModelSource =
  | { kind: 'folder'; folder: ModelFolder; weightsFile?: string }
  | { kind: 'random'; config: ClvpConfig; seed: number };

export interface StartedRuntime {
  runtime: ClvpRuntime;
  /** generation_config.json as written, or null */
  generationConfig: Record<string, unknown> | null;
}
