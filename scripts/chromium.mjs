// Debian's chromium driven by playwright-core (whose own browser download does not work here):
// one launcher for the browser test and the README screenshot, with no network of its own.
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.BN_CHECK_CHROMIUM ?? "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches chromium, or fails saying how to install it (never a silent skip). */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `chromium not found at ${CHROMIUM}: install it (apt-get install -y ` +
        `chromium; .ci/run does so when run as root) or set BN_CHECK_CHROMIUM`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}
