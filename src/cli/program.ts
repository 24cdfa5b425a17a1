/** Declares the commands and options; values are parsed and range-checked here, nothing else. */
import { Command, Option } from "commander";
import { FRAMEWORK_NAMES } from "../conventions/index.js";
import { LAYOUT_NAMES } from "../core/layout.js";
import { COMPUTE_DTYPES, FLOAT_DTYPES } from "../core/tensor.js";
import { REPORTER_NAMES } from "../report/reporters/index.js";
import { writeStdout } from "./stdout.js";
import { parseAxis, parseFloatOption, parseIntegerOption, parseMomentum, parseShard } from "./parsers.js";
import { VERSION } from "../app/version.js";
import { TENSOR_FIELDS, type TensorField } from "../app/cases/fields.js";
import type { DetectFiles } from "../app/detect.js";

/** Options every command that computes BatchNorm shares. */
export interface ConventionCliOptions {
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
  steps?: boolean;
}

export interface ToleranceCliOptions {
  strict?: boolean;
  allChannels?: boolean;
  atol?: number;
  rtol?: number;
  equalNan?: boolean;
  computeDtype?: string;
}

export interface OutputCliOptions {
  threads?: number;
  format: string;
  report?: string;
  reportDir?: string;
  color: boolean;
  quiet?: boolean;
  parallelThreshold?: number;
}

export interface CompareCliOptions extends ConventionCliOptions, ToleranceCliOptions, OutputCliOptions {
  refRunningMean?: string;
  refRunningVar?: string;
  refRunningMeanSteps?: string;
  refRunningVarSteps?: string;
}
export interface DiffCliOptions extends ToleranceCliOptions, OutputCliOptions {
  channelAxis?: number;
}
export interface RunCliOptions extends ConventionCliOptions, OutputCliOptions {
  output: string;
  dtype?: string;
  force?: boolean;
  saveRunningMean?: string;
  saveRunningVar?: string;
  gradOutput?: string;
  saveGradInput?: string;
  saveGradWeight?: string;
  saveGradBias?: string;
}
export interface MatrixCliOptions extends OutputCliOptions {
  mode: string;
  layout?: string;
  channelAxis?: number;
  weight?: string;
  bias?: string;
  runningMean?: string;
  runningVar?: string;
  ref?: string;
}
export interface DetectCliOptions extends OutputCliOptions, ToleranceCliOptions, DetectFiles {
  framework?: string;
  mode?: string;
  channelAxis?: number;
  eps?: number;
  momentum?: number | "none";
}
export interface SuiteCliOptions extends OutputCliOptions {
  shard?: { index: number; count: number };
  filter?: string;
  strict?: boolean;
  defaultTolerances?: boolean;
}

export interface ModelCliOptions extends OutputCliOptions, ToleranceCliOptions {
  params: string;
  activations: string;
  refParams?: string;
  framework?: string;
  mode: string;
  layout?: string;
  channelAxis?: number;
  eps?: number;
  momentum?: number | "none";
  layers?: string;
  layerOptions?: string;
  inputKey: string;
  outputKey: string;
  quiet?: boolean;
}

export interface Handlers {
  compare(input: string, reference: string | undefined, options: CompareCliOptions): Promise<void>;
  diff(a: string, b: string, options: DiffCliOptions): Promise<void>;
  run(input: string, options: RunCliOptions): Promise<void>;
  matrix(input: string, options: MatrixCliOptions): Promise<void>;
  suite(source: string, options: SuiteCliOptions): Promise<void>;
  model(options: ModelCliOptions): Promise<void>;
  detect(input: string, reference: string, options: DetectCliOptions): Promise<void>;
  fold(options: FoldCliOptions): Promise<void>;
}

export interface FoldCliOptions extends OutputCliOptions {
  params: string;
  folded: string;
  framework?: string;
  eps?: number;
  layers?: string;
  layerOptions?: string;
  atol?: number;
  rtol?: number;
  strict?: boolean;
}

const nonNegative = (name: string) =>
  parseFloatOption(name, (v) => v >= 0 && Number.isFinite(v), "a finite number >= 0");
const TENSOR_SOURCES =
  "a .npy file, an archive member file:name (.npz, .safetensors, " +
  ".pt/.pth, .h5/.keras, Polygraphy .json) or an ONNX TensorProto .pb";

/** The tensor options of a group, from the field table (fields.ts): flag, hidden alias and help. */
function addTensorOptions(command: Command, group: TensorField["group"]): Command {
  for (const field of TENSOR_FIELDS as readonly TensorField[]) {
    if (field.group !== group || field.flag === null) continue;
    command.option(`${field.flag} <tensor>`, field.help);
    if (field.alias !== undefined)
      command.addOption(new Option(`${field.alias} <tensor>`, `alias of ${field.flag}`).hideHelp());
  }
  return command;
}

function addConventionOptions(command: Command, { steps }: { steps: boolean }): Command {
  command
    .addOption(
      new Option("-f, --framework <name>", "convention preset (keras = tf: Keras 2 / tf.keras)")
        .choices(FRAMEWORK_NAMES)
        .default("torch"),
    )
    .addOption(
      new Option("-m, --mode <mode>", "train: batch statistics (and running-stat update); eval: running statistics")
        .choices(["train", "eval"])
        .default("train"),
    )
    .addOption(
      new Option("--layout <layout>", "input layout; default: the framework's channel axis")
        .choices(LAYOUT_NAMES)
        .conflicts("channelAxis"),
    )
    .addOption(
      new Option("--channel-axis <k>", "channel axis, alternative to --layout; negative counts from the end").argParser(
        parseAxis,
      ),
    )
    .addOption(
      new Option("--eps <x>", "epsilon added to the variance; default: the framework's").argParser(
        parseFloatOption("eps", (v) => v > 0 && Number.isFinite(v), "a finite number > 0"),
      ),
    )
    .addOption(
      new Option(
        "--momentum <x|none>",
        "momentum in the framework's own meaning; none = cumulative average (torch)",
      ).argParser(parseMomentum),
    )
    .addOption(
      new Option("--num-batches-tracked <n>", "batches seen before this call (momentum none)").argParser(
        parseIntegerOption("num-batches-tracked", 0),
      ),
    );
  addTensorOptions(command, "parameters");
  if (steps)
    command.option(
      "--steps",
      "the leading axis of input (and reference) is a sequence of training steps; running statistics carry over",
    );
  return command;
}

function addToleranceOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--atol <x>", "absolute tolerance; default by dtype (torch.testing)").argParser(nonNegative("atol")),
    )
    .addOption(
      new Option("--rtol <x>", "relative tolerance; default by dtype (torch.testing)").argParser(nonNegative("rtol")),
    )
    .option("--equal-nan", "NaN in the reference matches NaN at the same position", false)
    .addOption(
      new Option(
        "--compute-dtype <dtype>",
        "precision the reference was computed in, when its file holds an upcast " +
          "(selects default tolerances, ulps and the error model's precision)",
      ).choices(COMPUTE_DTYPES),
    )
    .option(
      "--strict",
      "judge by the flat tolerance alone: no allowance for the reference's own float32 (bfloat16, float16) arithmetic",
      false,
    )
    .option(
      "--all-channels",
      "list every channel in the per-channel table (default: all up to " +
        "1024 channels, then the worst 1024 outside the flat tolerance)",
      false,
    );
}

function addOutputOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--threads <n>", "worker threads (default: os.availableParallelism())").argParser(
        parseIntegerOption("threads", 1),
      ),
    )
    .addOption(
      new Option("--format <format>", "report format (with --report: the file's format)")
        .choices(REPORTER_NAMES)
        .default("text"),
    )
    .option(
      "--report <path>",
      "write the report in --format to this file (with --format text, " +
        ".json/.xml/.md/.html pick the format); the text report still goes to the terminal",
    )
    .option(
      "--report-dir <dir>",
      "write the Markdown report as <dir>/report.md with its charts beside " +
        "it as .svg files (compare, diff, suite, model, matrix, detect, fold)",
    )
    .option("--no-color", "no colour in the text report (also: NO_COLOR, or stdout not a terminal)")
    .addOption(
      new Option("--parallel-threshold <n>", "elements below which no worker is used (testing)")
        .argParser(parseIntegerOption("parallel-threshold", 0))
        .hideHelp(),
    );
}

/** The program itself: name, version, the one-line usage errors and the help's epilogue. */
function rootProgram(): Command {
  return (
    new Command()
      .name("bn-check")
      .description(
        "Cross-framework Batch Normalization conformance checker: recomputes BatchNorm under " +
          "a framework's rules (float64, multithreaded) and diffs a reference against it.",
      )
      .version(VERSION, "-V, --version", "print the bn-check version")
      .option("--debug", "print stack traces for errors")

      // Set before the commands are added so that they inherit it: usage errors must exit 2, not 1.
      .exitOverride()
      // Usage errors are one line, like every other error: "bn-check: <problem> (see --help)".
      .configureOutput({
        writeOut: writeStdout,
        writeErr: (text) => process.stderr.write(text),
        outputError: (text, write) =>
          write(
            `bn-check: ${
              text
                .replace(/^error: /, "")
                .trim()
                .split("\n")[0]
            } (see --help)\n`,
          ),
      })
      .addHelpText(
        "after",
        "\nExit codes: 0 conforms, 1 checked and does not conform, 2 could not check (bad usage, bad input, worker " +
          "failure).\nTensors: .npy; file:name in .npz, .safetensors, .pt/.pth, .h5/.hdf5/.keras or Polygraphy " +
          ".json (the name may be left out when the file holds one tensor); ONNX TensorProto .pb.\nExample:\n  " +
          "bn-check compare fixtures/classic/input.npy fixtures/classic/ref.npy --framework torch",
      )
  );
}

/** `compare`: a reference output (and running statistics, gradients) against BatchNorm of the input. */
function declareCompare(program: Command, handlers: Handlers): void {
  const compare = program
    .command("compare")
    .description("check a reference output against BatchNorm of the input under a framework's convention")
    .argument("<input>", `the BN input tensor (${TENSOR_SOURCES})`)
    .argument(
      "[ref]",
      "the reference output to check (same shape as the input); optional when --grad-output checks gradients",
    );
  addTensorOptions(addConventionOptions(compare, { steps: true }), "references");
  addOutputOptions(addToleranceOptions(compare))
    .addHelpText(
      "after",
      "\nAllowance: |bn-check - ref| <= max(atol + rtol * |ref|, B) per element, B = how far a " +
        "numerically stable BatchNorm in the reference's precision can be off there (--strict: the " +
        "flat tolerance alone). NaN matches only with --equal-nan; an infinity only the same infinity.",
    )
    .action(handlers.compare);
}

/** `diff`: two tensors, no BatchNorm. */
function declareDiff(program: Command, handlers: Handlers): void {
  const diff = program
    .command("diff")
    .description("the tolerance report between two tensors, no BatchNorm (e.g. PyTorch's output vs your kernel's)")
    .argument("<a>", `the tensor to check (${TENSOR_SOURCES})`)
    .argument("<b>", "the reference")
    .addOption(new Option("--channel-axis <k>", "group the per-channel table by this axis").argParser(parseAxis));
  addOutputOptions(addToleranceOptions(diff)).action(handlers.diff);
}

/** `run`: BatchNorm computed and written. */
function declareRun(program: Command, handlers: Handlers): void {
  const run = program
    .command("run")
    .description("compute BatchNorm under a convention and write the output (and running statistics) as .npy")
    .argument("<input>", `the BN input tensor (${TENSOR_SOURCES})`)
    .requiredOption("-o, --output <npy>", "where to write the output (.npy)")
    .addOption(new Option("--dtype <dtype>", "output dtype; default: the input's").choices(FLOAT_DTYPES))
    .option("--force", "overwrite an existing output file (never an input)")
    .option("--save-running-mean <npy>", "write the updated running mean")
    .option("--save-running-var <npy>", "write the updated running variance")
    .option("--grad-output <tensor>", "the upstream gradient dy (shape of the input), for --save-grad-*")
    .option("--save-grad-input <npy>", "with --grad-output: write dx")
    .option("--save-grad-weight <npy>", "with --grad-output: write dγ")
    .option("--save-grad-bias <npy>", "with --grad-output: write dβ");
  addOutputOptions(addConventionOptions(run, { steps: true })).action(handlers.run);
}

/** `matrix`: one input under every preset. */
function declareMatrix(program: Command, handlers: Handlers): void {
  const matrix = program
    .command("matrix")
    .description(
      "BatchNorm of one input under every preset, with the pairwise differences and the convention detail behind each",
    )
    .argument("<input>", `the BN input tensor (${TENSOR_SOURCES})`)
    .addOption(new Option("-m, --mode <mode>", "train or eval").choices(["train", "eval"]).default("train"))
    .addOption(
      new Option("--layout <layout>", "input layout (default NCHW-style: channel axis 1)")
        .choices(LAYOUT_NAMES)
        .conflicts("channelAxis"),
    )
    .addOption(new Option("--channel-axis <k>", "channel axis; negative counts from the end").argParser(parseAxis))
    .option("--weight <tensor>", "per-channel scale (gamma)")
    .option("--bias <tensor>", "per-channel shift (beta)")
    .option("--running-mean <tensor>", "running mean before the call")
    .option("--running-var <tensor>", "running variance before the call")
    .option("--ref <tensor>", "a reference output: joins the table as one more row");
  addOutputOptions(matrix).action(handlers.matrix);
}

/** `detect`: which convention produced a reference. */
function declareDetect(program: Command, handlers: Handlers): void {
  const detect = program
    .command("detect")
    .description(
      "find the convention that produced a reference: presets x channel " +
        "axes x modes x eps (fitted too) x known wrong implementations",
    )
    .argument("<input>", `the BN input tensor (${TENSOR_SOURCES})`)
    .argument("<ref>", "the reference output to explain")
    .option("--weight <tensor>", "per-channel scale (gamma)")
    .option("--bias <tensor>", "per-channel shift (beta)")
    .option("--running-mean <tensor>", "running mean before the call (enables eval candidates)")
    .option("--running-var <tensor>", "running variance before the call")
    .option("--ref-running-mean <tensor>", "running mean after the call: identifies momentum and variance bias")
    .option("--ref-running-var <tensor>", "running variance after the call")
    .option(
      "--grad-output <tensor>",
      "the upstream gradient dy: with gradient references, say which statistics they used",
    )
    .option("--ref-grad-input <tensor>", "reference dx")
    .option("--ref-grad-weight <tensor>", "reference dγ")
    .option("--ref-grad-bias <tensor>", "reference dβ")
    .addOption(
      new Option(
        "-f, --framework <name>",
        "the convention you checked: the diagnosis says how the reference differs from it",
      ).choices(FRAMEWORK_NAMES),
    )
    .addOption(new Option("-m, --mode <mode>", "the mode you checked").choices(["train", "eval"]))
    .addOption(new Option("--channel-axis <k>", "the channel axis you checked").argParser(parseAxis))
    .addOption(
      new Option("--eps <x>", "the eps you checked (also tried as a candidate)").argParser(
        parseFloatOption("eps", (v) => v > 0 && Number.isFinite(v), "a finite number > 0"),
      ),
    )
    .addOption(new Option("--momentum <x>", "the momentum you checked").argParser(parseMomentum))
    .addOption(
      new Option("--atol <x>", "tolerance of the verdicts; default by dtype (torch.testing)").argParser(
        nonNegative("atol"),
      ),
    )
    .addOption(
      new Option("--rtol <x>", "tolerance of the verdicts; default by dtype (torch.testing)").argParser(
        nonNegative("rtol"),
      ),
    )
    .addOption(
      new Option(
        "--compute-dtype <dtype>",
        "precision the reference was computed in, when its file holds an upcast",
      ).choices(COMPUTE_DTYPES),
    )
    .option("--strict", "judge candidates by the flat tolerance alone (no error model)", false);
  addOutputOptions(detect).action(handlers.detect);
}

/** `suite`: many cases from a manifest or case folders. */
function declareSuite(program: Command, handlers: Handlers): void {
  const suite = program
    .command("suite")
    .description("run many cases: a manifest (JSON) or a directory of case folders with case.json")
    .argument("<source>", "manifest.json, or a directory of case folders (the reference-corpus layout)")
    .addOption(
      new Option("--shard <k/n>", "run the k-th of n deterministic slices (1-based), for CI matrix jobs").argParser(
        parseShard,
      ),
    )
    .option("--filter <glob>", "run only cases whose name matches the glob (e.g. 'gpu/pt-cuda-*')")
    .option("-q, --quiet", "no progress bar")
    .option("--strict", "judge every case by its flat tolerance alone (no error model)", false)
    .option(
      "--default-tolerances",
      "ignore the tolerances the cases give: judge every case at bn-check's defaults",
      false,
    );
  addOutputOptions(suite).action(handlers.suite);
}

/** `model`: every BatchNorm layer of a model. */
function declareModel(program: Command, handlers: Handlers): void {
  const model = program
    .command("model")
    .description(
      "check every BatchNorm layer of a model: parameters (state_dict, " +
        "Keras weights) and an activations dump, one case per layer",
    )
    .requiredOption(
      "--params <file>",
      "the parameters before the call: .safetensors, .pt/.pth, .npz, … (layers found by PyTorch or Keras naming)",
    )
    .requiredOption("--activations <file>", "each layer's input and output (keys: --input-key, --output-key)")
    .option("--ref-params <file>", "the parameters after a train-mode call: the running statistics are checked too")
    .addOption(
      new Option(
        "-f, --framework <name>",
        "convention preset; default: torch for PyTorch naming, keras for Keras naming",
      ).choices(FRAMEWORK_NAMES),
    )
    .addOption(
      new Option(
        "-m, --mode <mode>",
        "eval: running statistics (a model dump is usually inference); train: batch statistics",
      )
        .choices(["train", "eval"])
        .default("eval"),
    )
    .addOption(
      new Option("--layout <layout>", "activation layout; default: the framework's channel axis")
        .choices(LAYOUT_NAMES)
        .conflicts("channelAxis"),
    )
    .addOption(new Option("--channel-axis <k>", "channel axis, alternative to --layout").argParser(parseAxis))
    .addOption(
      new Option("--eps <x>", "epsilon of every layer; default: the framework's").argParser(
        parseFloatOption("eps", (v) => v > 0 && Number.isFinite(v), "a finite number > 0"),
      ),
    )
    .addOption(
      new Option(
        "--momentum <x|none>",
        "momentum of every layer, in the framework's meaning; none = cumulative average (uses num_batches_tracked)",
      ).argParser(parseMomentum),
    )
    .option("--layers <glob>", "only the layers whose names match (e.g. 'layer1.*')")
    .option(
      "--layer-options <file.json>",
      'per-layer eps and momentum: {"eps": {layer: x}, "momentum": ' +
        "{layer: x|null}} (layers it names override --eps/--momentum)",
    )
    .option("--input-key <template>", "activation key of a layer's input", "{layer}.input")
    .option("--output-key <template>", "activation key of a layer's output", "{layer}.output")
    .option("-q, --quiet", "no progress bar");
  addOutputOptions(addToleranceOptions(model)).action(handlers.model);
}

/** `fold`: BatchNorm folded into the layer before it. */
function declareFold(program: Command, handlers: Handlers): void {
  const fold = program
    .command("fold")
    .description(
      "check BatchNorm folded into the convolution or linear layer " +
        "before it: one case per BatchNorm of the unfused model",
    )
    .requiredOption(
      "--params <file>",
      "the unfused model: parameters (.pt/.pth, .safetensors, .npz) or an ONNX model " +
        "whose Conv/ConvTranspose/Gemm/MatMul nodes feed BatchNormalization nodes",
    )
    .requiredOption(
      "--folded <file>",
      "the folded model: a state_dict (each conv with a bias, no BatchNorm entries) or an ONNX model",
    )
    .addOption(
      new Option(
        "-f, --framework <name>",
        "whose default eps applies where the files state none (torch 1e-5, keras 1e-3)",
      ).choices(FRAMEWORK_NAMES),
    )
    .addOption(
      new Option("--eps <x>", "epsilon of every layer (over an ONNX node's attribute)").argParser(
        parseFloatOption("eps", (v) => v > 0 && Number.isFinite(v), "a finite number > 0"),
      ),
    )
    .option("--layers <glob>", "only the BatchNorm layers whose names match (e.g. 'layer1.*')")
    .option("--layer-options <file.json>", 'per-layer eps: {"eps": {layer: x}} (as for model)')
    .addOption(
      new Option("--atol <x>", "also allow this absolute difference (default: the error model alone)").argParser(
        nonNegative("atol"),
      ),
    )
    .addOption(
      new Option("--rtol <x>", "also allow this relative difference (default: the error model alone)").argParser(
        nonNegative("rtol"),
      ),
    )
    .option(
      "--strict",
      "judge by the flat tolerance alone (torch.testing's default for the dtype unless --atol/--rtol)",
      false,
    );
  addOutputOptions(fold).action(handlers.fold);
}

const DECLARATIONS: Readonly<Record<string, (program: Command, handlers: Handlers) => void>> = {
  compare: declareCompare,
  diff: declareDiff,
  run: declareRun,
  matrix: declareMatrix,
  detect: declareDetect,
  suite: declareSuite,
  model: declareModel,
  fold: declareFold,
};

/**
 * The program for `argv`. Declaring a command's options costs commander some milliseconds, a
 * visible part of a small `compare`'s start-up: when argv names a command, only that one is
 * declared (the others keep their names, so that commander's errors and suggestions stay the same);
 * without one (`--help`, `help`, a typo) every command is.
 */
export function buildProgram(handlers: Handlers, argv: readonly string[] = []): Command {
  const program = rootProgram();
  const named = argv.find((arg) => !arg.startsWith("-"));
  const only = named !== undefined && Object.hasOwn(DECLARATIONS, named) ? named : null;
  for (const [name, declare] of Object.entries(DECLARATIONS)) {
    if (only === null || name === only) declare(program, handlers);
    else program.command(name);
  }
  return program;
}
