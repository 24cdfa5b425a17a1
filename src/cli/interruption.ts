/**
 * Ctrl-C and SIGTERM. The first SIGINT aborts one signal that every pooled task and many-case run
 * listens on (stop between cases, report what was done, exit 130); a second one quits at once.
 * SIGTERM quits at once, as the default would, but without leaving a temporary file behind.
 */
import { setMaxListeners } from "node:events";
import { EXIT_INTERRUPTED, EXIT_TERMINATED } from "../core/errors.js";
import { removePendingTemporaryFiles } from "../io/atomic-write.js";

export const interruption = new AbortController();
// Every pooled task listens on this one signal (one listener per worker task): a pool of many threads,
// or tasks queued behind a busy worker, pass Node's default of 10 without any leak.
setMaxListeners(0, interruption.signal);

/** Installs the handlers; the returned function removes them. */
export function handleSignals(): () => void {
  const onInterrupt = () => {
    if (interruption.signal.aborted) {
      removePendingTemporaryFiles();
      process.exit(EXIT_INTERRUPTED);
    }
    interruption.abort();
    process.stderr.write("bn-check: interrupted; stopping (Ctrl-C again to quit at once)\n");
  };
  const onTerminate = () => {
    removePendingTemporaryFiles();
    process.exit(EXIT_TERMINATED);
  };
  process.on("SIGINT", onInterrupt);
  process.on("SIGTERM", onTerminate);
  return () => {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onTerminate);
  };
}
