import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export type { Browser };

/** Where the browser tests save their screenshots (repo-relative test-results/screenshots). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));

/** Debian's Chromium, headless, no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
