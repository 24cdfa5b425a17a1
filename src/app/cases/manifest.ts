/**
 * Suite sources: a JSON manifest (validated against schema/manifest.schema.json with ajv) or a
 * directory of reference-corpus case folders.
 */
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { createRequire } from "node:module";
import type { ValidateFunction } from "ajv";
import { BnCheckError, InputFileError } from "../../core/errors.js";
import { readJsonFile } from "../../io/read-file.js";
import type { FrameworkName } from "../../conventions/index.js";
import type { Mode } from "../../conventions/resolve.js";
import type { LayoutName } from "../../core/layout.js";
import type { ComputeDType } from "../../core/tensor.js";
import type { CheckCase, TensorTolerances } from "./case.js";
import { TENSOR_FIELDS, type TensorKey } from "./fields.js";
import { caseFromCorpusFolder, readCaseJson } from "./corpus-case.js";
import { casesFromModelFolder, isModelDump } from "./model-folder.js";
import { PACKAGE_ROOT } from "../version.js";

// The schema validator is compiled on first use: loading and compiling ajv is a visible part of a
// small command's start-up, and commands without a manifest never need it.
const require = createRequire(import.meta.url);
let validator: ValidateFunction | null = null;
function manifestValidator(): ValidateFunction {
  if (validator === null) {
    const schema = JSON.parse(readFileSync(new URL("schema/manifest.schema.json", PACKAGE_ROOT), "utf8")) as object;
    const { Ajv } = require("ajv") as typeof import("ajv");
    validator = new Ajv({ allErrors: false }).compile(schema);
  }
  return validator;
}

/** A manifest case: its tensors by the manifest keys of fields.ts, then the settings. */
type ManifestTensors = { [K in (typeof TENSOR_FIELDS)[number]["manifestKey"]]?: string };

interface ManifestCase extends ManifestTensors {
  name?: string;
  kind?: "compare" | "diff";
  expected?: "match" | "mismatch";
  onnxNodeTest?: string;
  caseFolder?: string;
  framework?: FrameworkName;
  mode?: Mode;
  layout?: LayoutName;
  channelAxis?: number;
  eps?: number;
  momentum?: number | "none";
  numBatchesTracked?: number;
  steps?: boolean;
  computeDtype?: ComputeDType;
  strict?: boolean;
  atol?: number;
  rtol?: number;
  equalNan?: boolean;
  tolerances?: TensorTolerances;
}

interface Manifest {
  defaults?: ManifestCase;
  cases: ManifestCase[];
}

function caseFromManifest(entry: ManifestCase, base: string): CheckCase {
  const at = (path: string | undefined) =>
    path === undefined ? undefined : isAbsolute(path) ? path : join(base, path);
  const name = entry.name as string;
  if (entry.caseFolder !== undefined) return { ...caseFromCorpusFolder(at(entry.caseFolder)!, name) };
  const files: Partial<Record<TensorKey, string>> = {};
  for (const field of TENSOR_FIELDS) {
    const path = at(entry[field.manifestKey]);
    if (path !== undefined) files[field.key] = path;
  }
  return {
    name,
    kind: entry.kind ?? "compare",
    expected: entry.expected ?? "match",
    files,
    onnxNodeTest: at(entry.onnxNodeTest),
    framework: entry.framework,
    mode: entry.mode,
    layout: entry.layout,
    channelAxis: entry.channelAxis,
    eps: entry.eps,
    momentum: entry.momentum === "none" ? null : entry.momentum,
    numBatchesTracked: entry.numBatchesTracked,
    steps: entry.steps,
    computeDtype: entry.computeDtype,
    strict: entry.strict,
    tolerance: { atol: entry.atol, rtol: entry.rtol, equalNan: entry.equalNan },
    tolerances: entry.tolerances,
  };
}

/**
 * @returns the cases of a manifest file, or of every case folder under a directory (sorted by path).
 * @throws InputFileError for a missing source, invalid JSON or a manifest that breaks the schema.
 */
export function loadSuite(source: string): CheckCase[] {
  if (!existsSync(source)) throw new InputFileError(source, "no such file or directory");
  if (statSync(source).isDirectory()) return casesUnder(source);
  const manifest = readJsonFile(source, MANIFEST_MAX_BYTES) as Manifest;
  const validate = manifestValidator();
  if (!validate(manifest)) {
    const problem = validate.errors?.[0];
    const where = problem?.instancePath === "" ? "the manifest" : (problem?.instancePath ?? "");
    const detail =
      problem?.keyword === "additionalProperties"
        ? `unknown field '${(problem.params as { additionalProperty: string }).additionalProperty}'`
        : problem?.message;
    throw new InputFileError(source, `does not follow schema/manifest.schema.json: ${where} ${detail}`);
  }
  const base = dirname(resolve(source));
  const names = new Set<string>();
  return manifest.cases.map((entry) => {
    const merged = { ...manifest.defaults, ...entry };
    // An ONNX node test names its own convention (onnx) unless the case itself says otherwise.
    if (entry.onnxNodeTest !== undefined && entry.framework === undefined) delete merged.framework;
    if (names.has(entry.name as string)) throw new InputFileError(source, `has two cases named '${entry.name}'`);
    names.add(entry.name as string);
    return caseFromManifest(merged, base);
  });
}

/** A manifest of a hundred thousand cases is a few tens of megabytes. */
const MANIFEST_MAX_BYTES = 64 << 20;

function casesUnder(root: string): CheckCase[] {
  const found: CheckCase[] = [];
  const walk = (dir: string) => {
    if (existsSync(join(dir, "case.json"))) {
      const name = relative(root, dir) || dir;
      try {
        const json = readCaseJson(dir);
        found.push(
          ...(isModelDump(json) ? casesFromModelFolder(dir, name, json) : [caseFromCorpusFolder(dir, name, json)]),
        );
      } catch (error) {
        // A bad case.json is that case's error; the other cases still run.
        if (!(error instanceof BnCheckError)) throw error;
        found.push({ name, kind: "compare", expected: "match", files: {}, loadError: error.message });
      }
      return;
    }
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
    }
  };
  walk(root);
  if (found.length === 0) throw new InputFileError(root, "holds no case folders (folders with a case.json)");
  return found;
}
