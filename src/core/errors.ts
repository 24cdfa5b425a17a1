import { escapeControlCharacters } from "./format.js";
/**
 * Errors that carry the process exit code they stand for. Only `cli/main.ts` turns them into an
 * exit; everything else throws them.
 *
 * Exit codes: 0 conforms, 1 checked and does not conform, 2 could not check.
 */
export const EXIT_CONFORMS = 0;
export const EXIT_MISMATCH = 1;
export const EXIT_CANNOT_CHECK = 2;
export const EXIT_INTERRUPTED = 130;
/** SIGTERM: 128 + 15, as a shell reports a process the signal ended. */
export const EXIT_TERMINATED = 143;

/** Any failure that prevents a check: bad usage, bad input, an internal or worker failure. */
export class BnCheckError extends Error {
  readonly exitCode: number = EXIT_CANNOT_CHECK;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A tensor file that cannot be read as a valid float tensor; the message names the file. */
export class InputFileError extends BnCheckError {
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${printable(file)}: ${printable(problem)}`, options);
  }
}

/** Longest part of an error line taken from a file (a name, a header field) before it is cut. */
const MAX_ECHOED = 300;

/**
 * Control characters from a file's content would break the one-line error: show them escaped; and
 * text a file supplies (a 5 MB dimension string, thousands of member names) is cut to a readable length.
 */
function printable(text: string): string {
  const escaped = escapeControlCharacters(text);
  return escaped.length <= MAX_ECHOED
    ? escaped
    : `${escaped.slice(0, MAX_ECHOED)}… (${escaped.length - MAX_ECHOED} more characters)`;
}

/** Options or tensors that are individually valid but cannot be used together. */
export class UsageError extends BnCheckError {}

/**
 * A check's inputs that are missing or cannot go together, named as the library names them: the
 * fields of CheckTensors and CheckRequest (`gradOutput`, `referenceRunningMean`, `mode`), written
 * `{field}` in the template. `message` names them so; a front end that names them otherwise (the
 * CLI's flags, a manifest's keys) says `describe(nameOf)`.
 */
export class CheckInputError extends UsageError {
  /** The fields the message is about, in the order it names them. */
  readonly fields: readonly string[];
  constructor(readonly template: string) {
    super(fillFields(template, (field) => field));
    this.fields = [...template.matchAll(FIELD)].map((match) => match[1]);
  }

  describe(nameOf: (field: string) => string): string {
    return fillFields(this.template, nameOf);
  }
}

const FIELD = /\{(\w+)\}/g;

function fillFields(template: string, nameOf: (field: string) => string): string {
  return template.replace(FIELD, (_, field: string) => nameOf(field));
}

/** A worker thread threw or died; the message names the work it was doing. */
export class WorkerFailureError extends BnCheckError {}

/** The user interrupted (Ctrl-C): nothing partial was written. */
export class InterruptedError extends BnCheckError {
  override readonly exitCode: number = EXIT_INTERRUPTED;
}
