// The audio front end: WAV I/O, resampling, and HF's ClvpFeatureExtractor.
export { WavError, decodeWav, encodeWav } from './wav';
export type { ChannelMode, DecodedWav, DecodeWavOptions, EncodeWavOptions, WavEncoding, WavSampleFormat } from './wav';
export { SincResampler, resample } from './resample';
export type { ResampleOptions, ResamplingMethod } from './resample';
export { hertzToMel, melToHertz, melFilterBank, windowFunction, spectrogram, StftAnalyzer, padSignal } from './audio_utils';
export type { MelFilterBank, MelFilterBankOptions, MelScale, Spectrogram, SpectrogramOptions, WindowName, PadMode } from './audio_utils';
export { ClvpFeatureExtractor, CLVP_FEATURE_EXTRACTOR_DEFAULTS } from './feature_extraction_clvp';
export type { ClvpFeatureExtractorConfig, ClvpFeatureCallOptions, ClvpFeatures, ClvpFeaturesTf, HostArray, PaddingOption } from './feature_extraction_clvp';
export { loadVoice, prepareVoice, voiceFromWav } from './load_voice';
export type { LoadVoiceOptions, LoadedVoice } from './load_voice';
