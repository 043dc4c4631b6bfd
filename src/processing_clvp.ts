// ClvpProcessor (transformers models/clvp/processing_clvp.py): the feature extractor and the
// tokenizer behind one call. As in the reference, the same options reach both, and with text and
// audio together the returned attention mask is the text's.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpFeatureExtractor, PaddingOption } from './audio/feature_extraction_clvp';
import { LoadVoiceOptions, loadVoice, voiceFromWav } from './audio/load_voice';
import { ModelFolder } from './io/folder';
import { platform } from './platform/platform';
import { ClvpTokenizer } from './tokenizer/tokenization_clvp';

export interface ClvpProcessorCall {
  text?: string | string[];
  /** one clip or a batch of clips, float samples at `samplingRate` */
  rawSpeech?: ArrayLike<number> | ArrayLike<number>[];
  samplingRate?: number;
  /** passed to both the feature extractor and the tokenizer (HF semantics for each) */
  padding?: boolean | 'longest' | 'max_length' | 'do_not_pad';
  truncation?: boolean;
  maxLength?: number;
}

export interface ClvpProcessorOutput {
  /** [batch, length] int32 */
  inputIds?: tf.Tensor2D;
  /** the text mask when text is given, else the audio mask [batch, samples] */
  attentionMask?: tf.Tensor2D;
  /** [batch, 80, frames] float32 */
  inputFeatures?: tf.Tensor3D;
}

export class ClvpProcessor {
  constructor(readonly featureExtractor: ClvpFeatureExtractor, readonly tokenizer: ClvpTokenizer) {}

  /**
   * From a model folder (or Hub id, or URL) with preprocessor_config.json and the tokenizer files
   * (vocab.json, merges.txt, ...), or the original Tortoise tokenizer.json in place of vocab.json + merges.txt.
   */
  static async fromPretrained(source: string | ModelFolder): Promise<ClvpProcessor> {
    const folder = typeof source === 'string' ? await platform().openModel(source) : source;
    if (!(await folder.has('preprocessor_config.json'))) throw new Error(`${folder.label}: no preprocessor_config.json (the feature extractor settings; copy the one of a CLVP checkpoint)`);
    const tokenizer = !(await folder.has('vocab.json')) && (await folder.has('tokenizer.json'))
      ? ClvpTokenizer.fromTortoiseTokenizerJsonText(await folder.readText('tokenizer.json'), `${folder.label}/tokenizer.json`)
      : await ClvpTokenizer.fromPretrained(folder);
    return new ClvpProcessor(await ClvpFeatureExtractor.fromPretrained(folder), tokenizer);
  }

  /** Tensors the caller owns (dispose them, or pass the object to disposeOutput). */
  call(inputs: ClvpProcessorCall): ClvpProcessorOutput {
    const { text, rawSpeech } = inputs;
    if (text === undefined && rawSpeech === undefined) throw new Error('ClvpProcessor: you need to specify either text or rawSpeech');
    const out: ClvpProcessorOutput = {};
    if (rawSpeech !== undefined) {
      if (inputs.samplingRate === undefined) throw new Error('ClvpProcessor: samplingRate is required with rawSpeech');
      const f = this.featureExtractor.call(rawSpeech, {
        samplingRate: inputs.samplingRate,
        padding: inputs.padding as PaddingOption | undefined,
        truncation: inputs.truncation,
        maxLength: inputs.maxLength,
        returnTensors: 'tf',
      });
      out.inputFeatures = f.inputFeatures;
      out.attentionMask = f.attentionMask;
    }
    if (text !== undefined) {
      const enc = this.tokenizer.call(text, { padding: inputs.padding, truncation: inputs.truncation, maxLength: inputs.maxLength, returnTensors: 'tf' });
      out.attentionMask?.dispose();
      out.inputIds = enc.inputIds as tf.Tensor2D;
      out.attentionMask = enc.attentionMask as tf.Tensor2D;
    }
    return out;
  }

  /** Voice clips from WAV files (paths in Node, URLs in pages): decode, first channel (or `channel`), resample to the extractor's rate. */
  async loadVoices(files: string[], opts: LoadVoiceOptions = {}): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const f of files) out.push((await loadVoice(f, { targetRate: this.featureExtractor.config.samplingRate, ...opts })).samples);
    return out;
  }

  /** A voice clip from WAV bytes (a picked file, a fetched response); `source` names it in errors. */
  voiceFromWav(bytes: Uint8Array, source: string, opts: LoadVoiceOptions = {}): Float32Array {
    return voiceFromWav(bytes, source, { targetRate: this.featureExtractor.config.samplingRate, ...opts }).samples;
  }

  decode(ids: number[] | tf.Tensor, opts?: Parameters<ClvpTokenizer['decode']>[1]): string {
    return this.tokenizer.decode(ids, opts);
  }

  batchDecode(ids: number[][] | tf.Tensor2D, opts?: Parameters<ClvpTokenizer['batchDecode']>[1]): string[] {
    return this.tokenizer.batchDecode(ids, opts);
  }
}
