/** Declares the commands and options; parsing and validation of values happen here, nothing else. */
import { Command, Option } from "commander";
import { FRAMEWORK_NAMES } from "../conventions/index.js";
import { LAYOUT_NAMES } from "../kernel/layout.js";
import { COMPUTE_DTYPES } from "../npy/tensor.js";
import { REPORTER_NAMES } from "../report/reporters/index.js";
import { parseAxis, parseFloatOption, parseIntegerOption, parseMomentum } from "./parsers.js";
import { VERSION } from "./version.js";

export interface CompareCliOptions {
  framework: string;
  mode: string;
  layout?: string;
  channelAxis?: number;
  eps?: number;
  momentum?: number | "none";
  numBatchesTracked?: number;
  weight?: string;
  gamma?: string;
  bias?: string;
  beta?: string;
  runningMean?: string;
  runningVar?: string;
  refRunningMean?: string;
  refRunningVar?: string;
  atol?: number;
  rtol?: number;
  equalNan?: boolean;
  computeDtype?: string;
  threads?: number;
  format: string;
  color: boolean;
  parallelThreshold?: number;
}

export type CompareHandler = (input: string, reference: string, options: CompareCliOptions) => Promise<void>;

const nonNegative = (name: string) => parseFloatOption(name, (v) => v >= 0 && Number.isFinite(v), "a finite number >= 0");

export function buildProgram(onCompare: CompareHandler): Command {
  const program = new Command()
    .name("bn-check")
    .description("Cross-framework Batch Normalization conformance checker: recomputes BatchNorm under a framework's rules (float64, multithreaded) and diffs a reference against it.")
    .version(VERSION, "-V, --version", "print the bn-check version")
    .option("--debug", "print stack traces for errors")
    .showHelpAfterError("(run with --help for usage)")
    // Set before the commands are added so that they inherit it: usage errors must exit 2, not 1.
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addHelpText(
      "after",
      "\nExit codes: 0 conforms, 1 checked and does not conform, 2 could not check (bad usage, bad input, worker failure).\nExample:\n  bn-check compare fixtures/pt-cpu-classic-train/input.npy fixtures/pt-cpu-classic-train/ref.npy --framework torch \\\n    --weight fixtures/pt-cpu-classic-train/weight.npy --bias fixtures/pt-cpu-classic-train/bias.npy",
    );

  program
    .command("compare")
    .description("check a reference output (ref.npy) against BatchNorm of input.npy under a framework's convention")
    .argument("<input>", "the BN input tensor (.npy, float16/32/64)")
    .argument("<ref>", "the reference output to check (.npy, same shape as the input)")
    .addOption(new Option("-f, --framework <name>", "convention preset (keras = tf: Keras 2 / tf.keras)").choices(FRAMEWORK_NAMES).default("torch"))
    .addOption(new Option("-m, --mode <mode>", "train: batch statistics (and running-stat update); eval: running statistics").choices(["train", "eval"]).default("train"))
    .addOption(new Option("--layout <layout>", "input layout; default: the framework's channel axis").choices(LAYOUT_NAMES).conflicts("channelAxis"))
    .addOption(new Option("--channel-axis <k>", "channel axis, alternative to --layout; negative counts from the end").argParser(parseAxis))
    .addOption(new Option("--eps <x>", "epsilon added to the variance; default: the framework's").argParser(parseFloatOption("eps", (v) => v > 0 && Number.isFinite(v), "a finite number > 0")))
    .addOption(new Option("--momentum <x|none>", "momentum in the framework's own meaning; none = cumulative average (torch)").argParser(parseMomentum))
    .addOption(new Option("--num-batches-tracked <n>", "batches seen before this call (momentum none)").argParser(parseIntegerOption("num-batches-tracked", 0)))
    .option("--weight <npy>", "per-channel scale (gamma); default: 1")
    .addOption(new Option("--gamma <npy>", "alias of --weight").hideHelp())
    .option("--bias <npy>", "per-channel shift (beta); default: 0")
    .addOption(new Option("--beta <npy>", "alias of --bias").hideHelp())
    .option("--running-mean <npy>", "running mean before the call (required for eval)")
    .option("--running-var <npy>", "running variance before the call (required for eval)")
    .option("--ref-running-mean <npy>", "reference running mean after the call: also check it")
    .option("--ref-running-var <npy>", "reference running variance after the call: also check it")
    .addOption(new Option("--atol <x>", "absolute tolerance; default by dtype (torch.testing)").argParser(nonNegative("atol")))
    .addOption(new Option("--rtol <x>", "relative tolerance; default by dtype (torch.testing)").argParser(nonNegative("rtol")))
    .option("--equal-nan", "NaN in the reference matches NaN at the same position", false)
    .addOption(new Option("--compute-dtype <dtype>", "precision the reference was computed in, when its file holds an upcast (selects default tolerances and ulps)").choices(COMPUTE_DTYPES))
    .addOption(new Option("--threads <n>", "worker threads (default: os.availableParallelism())").argParser(parseIntegerOption("threads", 1)))
    .addOption(new Option("--format <format>", "report format").choices(REPORTER_NAMES).default("text"))
    .option("--no-color", "no colour in the text report (also: NO_COLOR, or stdout not a terminal)")
    .addOption(new Option("--parallel-threshold <n>", "elements below which no worker is used (testing)").argParser(parseIntegerOption("parallel-threshold", 0)).hideHelp())
    .addHelpText("after", "\nTolerance: |bn-check - ref| <= atol + rtol * |ref| per element. NaN matches only with --equal-nan; an infinity only the same infinity.")
    .action(onCompare);
  return program;
}
