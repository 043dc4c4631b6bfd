// The README's library example, runnable: npx ts-node examples/library.ts [model] [voice.wav]
// (defaults: the bundled random-weight model, whose output is meaningless, and examples/voice.wav).
import * as path from 'path';
import { ClvpModelForConditionalGeneration, ClvpProcessor, disposeOutput, readText } from '../src';

export async function example(model = path.join(__dirname, '..', 'weights', 'clvp-random-small'), voiceFile = path.join(__dirname, 'voice.wav')) {
  // A local folder, or a Hub id such as 'susnato/clvp_dev' (downloaded once into the HF cache).
  const processor = await ClvpProcessor.fromPretrained(model);
  const clvp = await ClvpModelForConditionalGeneration.fromPretrained(model); // tp: 'auto' by default

  const voice = await processor.loadVoices([voiceFile]); // decode, first channel, resample to 22.05 kHz
  const inputs = processor.call({ text: 'This is an example text.', rawSpeech: voice, samplingRate: 22050 });

  // HF's forward / get_text_features / generate:
  const out = await clvp.forward({ inputIds: inputs.inputIds!, inputFeatures: inputs.inputFeatures!, returnLoss: true });
  const textEmbeds = await clvp.getTextFeatures({ inputIds: inputs.inputIds! });
  const gen = await clvp.generate(
    { inputIds: inputs.inputIds!, inputFeatures: inputs.inputFeatures! },
    { doSample: true, temperature: 0.8, topP: 0.8, repetitionPenalty: 2.0, maxNewTokens: 20, numReturnSequences: 2, seed: 7 },
  );

  // The Tortoise job: many candidates for one text, in bounded batches, best first.
  const ranked = await clvp.rankCandidates(
    { inputIds: inputs.inputIds!, inputFeatures: inputs.inputFeatures! },
    { numCandidates: 4, doSample: true, topP: 0.8, temperature: 0.8, repetitionPenalty: 2.0, maxNewTokens: 20, seed: 1, signal: AbortSignal.timeout(600_000) },
  );

  // A long text, as Tortoise's read.py: split into chunks, each ranked on its own.
  const chapter = await readText(clvp, processor.tokenizer, 'It was a dark and stormy night. The rain fell in torrents. '.repeat(6), inputs.inputFeatures!, { numCandidates: 2, maxNewTokens: 10, seed: 3 });

  const summary = {
    loss: out.loss!.dataSync()[0],
    textEmbedsShape: textEmbeds.shape,
    generated: gen.speechIds.shape,
    best: ranked.candidates[0],
    chunks: chapter.map((c) => ({ text: c.text, best: c.result.candidates[0].score })),
  };
  disposeOutput([out, textEmbeds, gen, inputs]);
  await clvp.dispose();
  return summary;
}

if (require.main === module) example(process.argv[2], process.argv[3]).then((s) => console.log(JSON.stringify(s, null, 1)));
