// Debian's Chromium, headless, as the browser tests, the browser benchmark and the demo screenshot
// run it: WebGPU and WebGL on the software adapter (SwiftShader), no calls to Google's services on
// a closed network, and optionally a fake microphone playing a WAV file.
// Chromium: /usr/bin/chromium (override with CLVP_CHROMIUM).
import puppeteer, { Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.CLVP_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(opts: { profile: string; micWav?: string }): Promise<Browser> {
  try {
    return await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Long waits (a page's whole run) are one protocol call; the callers set their own timeouts.
      protocolTimeout: 1_800_000,
      args: [
        '--no-sandbox', '--headless=new', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader',
        // Without these Chromium keeps trying to reach Google's services on a closed network.
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
        `--user-data-dir=${opts.profile}`,
        '--autoplay-policy=no-user-gesture-required',
        ...(opts.micWav ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${opts.micWav}`] : []),
      ],
    });
  } catch (e) {
    throw new Error(`could not start Chromium at ${CHROMIUM} (apt-get install -y chromium): ${(e as Error).message}`);
  }
}
