// Builds the default model bundled in weights/clvp-random-small: a small CLVP in the Hugging Face
// layout with random (HF-initialised, seeded) weights, and a byte-level BPE vocabulary trained here
// on the text below (not the Tortoise vocabulary). Its outputs are meaningless; it exists so the
// CLI runs right after install. Rebuild: npx ts-node scripts/make-default-model.ts
import * as fs from 'fs';
import * as path from 'path';
import '../src/platform/node_install';
import { countParameters, makeConfig } from '../src/config/configuration_clvp';
import { writeRandomCheckpoint } from '../src/models/random_checkpoint';
import { EnglishNormalizer } from '../src/tokenizer/english_normalizer';

const OUT = path.resolve(__dirname, '..', 'weights', 'clvp-random-small');
const SEED = 20261125;

// Training text for the BPE merges: plain sentences written for this script.
const CORPUS = `
The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore.
A voice carries the weight of everything we mean to say. Speak slowly and clearly, please.
The morning train leaves the station at seven, and the evening train returns at nine.
We measured the sound of the room with a small microphone and a quiet laptop.
This is an example of speech that a model might be asked to read aloud.
Numbers like forty two and one hundred are written out before they are read.
Hello there, how are you doing today? I am doing well, thank you for asking.
Please remember to bring the red umbrella; the weather is changing again.
It was the best of times, in the middle of a long and winding story about people.
Every sentence that we write here only shapes the vocabulary, never the voice.
They wanted to listen to the music, but the neighbours were singing louder than ever.
Would you like some tea or coffee? Neither, thanks, just a glass of water.
The library opens at ten o'clock and closes when the last reader goes home.
Learning to speak a new language takes patience, practice and a little courage.
Her laugh was bright and sudden, like sunlight breaking through the clouds.
What time is it? It is nearly half past four in the afternoon.
`;

const ALPHABET = ['!', "'", '(', ')', ',', '-', '.', ':', ';', '?', ...'abcdefghijklmnopqrstuvwxyz'];
const VOCAB_SIZE = 256; // 255 BPE entries + <|endoftext|>, as the CLVP text vocabulary

function trainBpe(text: string): { vocab: string[]; merges: [string, string][] } {
  const words = new Map<string, number>();
  for (const w of new EnglishNormalizer().normalize(text).split(' ')) if (w) words.set(w, (words.get(w) ?? 0) + 1);
  let seqs = [...words.entries()].map(([w, n]) => ({ sym: [...w].filter((ch) => ALPHABET.includes(ch)), n }));
  const vocab = ['[STOP]', '[UNK]', '[SPACE]', ...ALPHABET];
  const merges: [string, string][] = [];
  while (vocab.length < VOCAB_SIZE - 1) {
    const counts = new Map<string, number>();
    for (const s of seqs) for (let i = 0; i + 1 < s.sym.length; i++) {
      const k = s.sym[i] + '\u0000' + s.sym[i + 1];
      counts.set(k, (counts.get(k) ?? 0) + s.n);
    }
    let best = '';
    let bestN = 1;
    for (const [k, n] of counts) if (n > bestN || (n === bestN && best && k < best)) [best, bestN] = [k, n];
    if (!best) break;
    const [a, b] = best.split('\u0000');
    merges.push([a, b]);
    vocab.push(a + b);
    seqs = seqs.map((s) => {
      const out: string[] = [];
      for (let i = 0; i < s.sym.length; i++) {
        if (i + 1 < s.sym.length && s.sym[i] === a && s.sym[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(s.sym[i]);
      }
      return { sym: out, n: s.n };
    });
  }
  return { vocab, merges };
}

const special = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });

(async () => {
  fs.mkdirSync(OUT, { recursive: true });

  const { vocab, merges } = trainBpe(CORPUS);
  const vocabJson: Record<string, number> = {};
  vocab.forEach((t, i) => (vocabJson[t] = i));
  const bosId = vocab.length; // <|endoftext|> is an added token after the BPE entries
  fs.writeFileSync(path.join(OUT, 'vocab.json'), JSON.stringify(vocabJson, null, 1) + '\n');
  fs.writeFileSync(path.join(OUT, 'merges.txt'), ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
  fs.writeFileSync(path.join(OUT, 'tokenizer_config.json'), JSON.stringify({
    add_bos_token: false, add_eos_token: false, add_prefix_space: false,
    added_tokens_decoder: { 0: { ...special('[STOP]'), special: true }, 1: { ...special('[UNK]'), special: true }, [bosId]: { ...special('<|endoftext|>'), special: true } },
    bos_token: '<|endoftext|>', eos_token: '[STOP]', pad_token: '[STOP]', unk_token: '[UNK]',
    clean_up_tokenization_spaces: true, errors: 'replace', model_max_length: 1e30, tokenizer_class: 'ClvpTokenizer',
  }, null, 2) + '\n');
  fs.writeFileSync(path.join(OUT, 'special_tokens_map.json'), JSON.stringify({ bos_token: special('<|endoftext|>'), eos_token: special('[STOP]'), pad_token: special('[STOP]'), unk_token: special('[UNK]') }, null, 2) + '\n');
  // HF's ClvpFeatureExtractor defaults; no mel_norms (those of Tortoise are not ours to ship).
  fs.writeFileSync(path.join(OUT, 'preprocessor_config.json'), JSON.stringify({
    feature_extractor_type: 'ClvpFeatureExtractor', processor_class: 'ClvpProcessor', feature_size: 80, sampling_rate: 22050,
    default_audio_length: 6, hop_length: 256, chunk_length: 30, n_fft: 1024, padding_value: 0.0, return_attention_mask: false, mel_norms: null,
  }, null, 2) + '\n');

  // Real CLVP structure (positions, text positions, mel bins, fixing codes) at a small width.
  const config = makeConfig({
    projectionDim: 128,
    textConfig: { vocabSize: VOCAB_SIZE, hiddenSize: 128, intermediateSize: 256, projectionDim: 128, numHiddenLayers: 2, numAttentionHeads: 4, bosTokenId: bosId, eosTokenId: 0 },
    speechConfig: { vocabSize: 1024, hiddenSize: 128, intermediateSize: 256, projectionDim: 128, numHiddenLayers: 2, numAttentionHeads: 4, bosTokenId: bosId, eosTokenId: 0 },
    decoderConfig: { vocabSize: 1026, bosTokenId: 1024, eosTokenId: 1025, hiddenSize: 128, numHiddenLayers: 3, numAttentionHeads: 4, nInner: 512, numMelAttnBlocks: 1, maxPositionEmbeddings: 608, maxTextTokens: 404 },
  });

  await writeRandomCheckpoint(OUT, config, { seed: SEED, dtype: 'F16', generationConfig: { bos_token_id: 1024, eos_token_id: 1025, pad_token_id: 1025, max_new_tokens: 500, return_dict_in_generate: true } });
  console.log(`wrote ${OUT}: ${countParameters(config).toLocaleString('en-US')} parameters, ${vocab.length} BPE entries + <|endoftext|>`);
})();
