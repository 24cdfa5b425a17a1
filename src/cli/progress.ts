/** The progress of a many-case command: a bar on a terminal, plain lines for CI logs and tests. */
import type { Report } from "../app/reports.js";
import { EXIT_INTERRUPTED } from "../core/errors.js";
import { escapeControlCharacters } from "../core/format.js";
import { importPackage } from "../core/import-package.js";
import { interruption } from "./interruption.js";
import type { OutputCliOptions } from "./program.js";
import { emit } from "./report-output.js";

/**
 * Runs a many-case command with a progress bar on a terminal (none with --quiet or when stderr is
 * not a terminal), then prints its report; an interruption between cases ends with 130.
 */
export async function withProgress(
  command: "suite" | "model",
  options: OutputCliOptions & { quiet?: boolean },
  run: (onProgress: (done: number, total: number, name: string) => void) => Promise<Report>,
): Promise<void> {
  const showProgress = options.quiet !== true && process.stderr.isTTY === true;
  const cliProgress = showProgress
    ? (await importPackage<{ default: typeof import("cli-progress") }>("cli-progress")).default
    : null;
  const bar =
    cliProgress !== null
      ? new cliProgress.SingleBar(
          {
            format: `bn-check ${command} [{bar}] {value}/{total} {name}`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  let started = false;
  try {
    const lines = progressLines();
    const report = await run((done, total, name) => {
      if (lines) process.stderr.write(`bn-check: progress ${done}/${total} ${escapeControlCharacters(name)}\n`);
      if (bar === null) return;
      if (!started) bar.start(total, 0, { name: "" });
      started = true;
      bar.update(done, { name });
    });
    bar?.stop();
    await emit(report, options);
    if (interruption.signal.aborted) process.exitCode = EXIT_INTERRUPTED;
  } finally {
    bar?.stop();
  }
}

/**
 * BN_CHECK_PROGRESS=lines: progress as plain lines on stderr (`bn-check: progress 12/56 <case>`), for
 * a CI log where no terminal shows a bar, and for tests that act when work is under way.
 */
export function progressLines(): boolean {
  return process.env.BN_CHECK_PROGRESS === "lines";
}
