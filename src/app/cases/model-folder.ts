/**
 * A whole-model dump as a suite case folder (the reference corpus' `model-*` sets): a case.json
 * naming the model's BatchNorm layers (`bn_layers`) and its parameter files (`params`, relative to
 * the folder), beside activation dumps (`acts*.safetensors`, `acts*.npz`). Each dump becomes one
 * case per layer, planned as `bn-check model` plans them, named `<folder>/<dump>/<layer>`; in the
 * dump `fault.file` the layer `fault.layer` is expected to fail and every other layer to conform.
 * The case.json's `eps`/`layer_eps` and `layer_momentum` give the layers' conventions (see
 * src/app/model/layer-options.ts), `params_after.safetensors` the running statistics after a train call.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputFileError } from "../../core/errors.js";
import { DEFAULT_INPUT_KEY, DEFAULT_OUTPUT_KEY, planModel } from "../model/model-cases.js";
import type { CheckCase } from "./case.js";
import { frameworkOfCase } from "./corpus-case.js";

export interface ModelCaseJson {
  readonly bn_layers: readonly string[];
  readonly params: readonly string[];
  readonly files?: readonly string[];
  readonly mode?: "train" | "eval";
  readonly fault?: { readonly file?: string; readonly layer?: string };
  readonly framework?: string;
  readonly convention?: string;
}

const DUMP = /^acts.*\.(safetensors|npz)$/i;

/** Whether a case.json describes a model dump rather than one BatchNorm call. */
export function isModelDump(json: unknown): json is ModelCaseJson {
  const value = json as Partial<ModelCaseJson> | null;
  return typeof value === "object" && value !== null && Array.isArray(value.bn_layers) && Array.isArray(value.params);
}

/** The folder's cases, one per layer and dump. */
export function casesFromModelFolder(dir: string, name: string, json: ModelCaseJson): CheckCase[] {
  const jsonPath = join(dir, "case.json");
  const params = json.params.map((file) => join(dir, file)).find((path) => existsSync(path));
  if (params === undefined)
    throw new InputFileError(jsonPath, `names parameter files ${json.params.join(", ")}, none of which exists`);
  const mode = json.mode ?? "eval";
  const after = join(dir, "params_after.safetensors");
  const dumps = (json.files ?? []).filter((file) => DUMP.test(file) && existsSync(join(dir, file)));
  if (dumps.length === 0)
    throw new InputFileError(jsonPath, "names no activation dump (acts*.safetensors, acts*.npz) in 'files'");
  const framework = frameworkOfCase(json as Parameters<typeof frameworkOfCase>[0], jsonPath);
  return dumps.flatMap((dump) => {
    const plan = planModel(
      {
        params,
        activations: join(dir, dump),
        refParams: mode === "train" && existsSync(after) ? after : undefined,
        inputKey: DEFAULT_INPUT_KEY,
        outputKey: DEFAULT_OUTPUT_KEY,
        layerOptions: jsonPath,
      },
      { framework, mode },
    );
    const faulty = json.fault?.file === dump ? json.fault.layer : undefined;
    return plan.cases.map((check) => ({
      ...check,
      name: `${name}/${dump}/${check.name}`,
      expected: check.name === faulty ? ("mismatch" as const) : ("match" as const),
    }));
  });
}
