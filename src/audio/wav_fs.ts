// WAV files by path (Node): the decoder and encoder of wav.ts over fs.
import * as fs from 'fs';
import { DecodeWavOptions, DecodedWav, EncodeWavOptions, WavError, decodeWav, encodeWav } from './wav';

/** Read and decode a WAV file; errors name the file. */
export function readWav(file: string, opts: Omit<DecodeWavOptions, 'source'> = {}): DecodedWav {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new WavError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return decodeWav(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { ...opts, source: file });
}

/** Write a WAV file (see `encodeWav`). */
export function writeWav(file: string, channels: Float32Array | Float32Array[], sampleRate: number, opts: EncodeWavOptions = {}): void {
  fs.writeFileSync(file, encodeWav(channels, sampleRate, opts));
}
