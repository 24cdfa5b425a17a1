/**
 * `bn-check model`: every BatchNorm layer of a model checked as a case of its own, from the files
 * people have (a state_dict or Keras weights, an activations dump), through the suite's engine.
 */
import { explainFailingLayers } from "./model-findings.js";
import { type ModelJudging, type ModelSource, planModel } from "./model-cases.js";
import type { SuiteReport } from "../reports.js";
import { reportHead } from "../version.js";
import { type CaseRunOptions, runCases } from "../suite.js";
import { nowMs } from "../../core/clock.js";

export interface ModelOptions extends CaseRunOptions {
  readonly source: ModelSource;
  readonly judging: ModelJudging;
}

export async function runModel(options: ModelOptions): Promise<SuiteReport> {
  const started = nowMs();
  const plan = planModel(options.source, options.judging);
  const result = await runCases(plan.cases, options);
  const findings = options.signal?.aborted
    ? []
    : await explainFailingLayers(plan.cases, result.cases, options.execution);
  return {
    ...reportHead("model"),
    conforms: result.conforms,
    exitCode: result.exitCode,
    source: options.source.params,
    shard: null,
    filter: options.source.layers ?? null,
    summary: result.summary,
    cases: result.cases,
    model: {
      params: options.source.params,
      activations: options.source.activations,
      refParams: options.source.refParams ?? null,
      naming: plan.naming.name,
      layersFound: plan.layersFound,
      layersSelected: plan.cases.length,
      findings,
    },
    timings: { ...result.timings, totalMs: nowMs() - started },
  };
}
