/**
 * When many layers of a model fail, one cause usually explains them all: the model was built with
 * another eps (torchvision's MobileNetV3 uses 1e-3), another momentum, or run in the other mode.
 * Each alternative is tried on the first failing layer and, if it conforms there, on every failing
 * layer; the report then says "all 34 failing layers conform with --eps 0.001" instead of listing
 * 34 failures with the same cause.
 */
import type { CheckCase } from "../cases/case.js";
import { runCase } from "../run-case.js";
import { otherEpsilons, otherMode, otherMomenta } from "../../conventions/alternatives.js";
import { BnCheckError } from "../../core/errors.js";
import type { ExecutionOptions } from "../../parallel/executor.js";
import type { CaseReport, ModelFinding } from "../reports.js";

interface Alternative {
  readonly option: string;
  readonly change: (check: CheckCase) => CheckCase | null;
}

/** A few layers failing is a few layer findings; from this many on, a shared cause is looked for. */
const MIN_FAILING = 2;

function alternativesFor(check: CheckCase): Alternative[] {
  const alternatives: Alternative[] = [];
  // What frameworks and model definitions use (conventions/alternatives.ts): a whole model built another way.
  for (const eps of otherEpsilons(check.eps, "models")) {
    alternatives.push({ option: `--eps ${eps}`, change: (c) => ({ ...c, eps }) });
  }
  const hasRunningReference = check.files.refRunningMean !== undefined || check.files.refRunningVar !== undefined;
  if (check.mode === "train" && hasRunningReference) {
    for (const momentum of otherMomenta(check.momentum))
      alternatives.push({ option: `--momentum ${momentum ?? "none"}`, change: (c) => ({ ...c, momentum }) });
  }
  const mode = otherMode(check.mode ?? "train");
  // Eval has no running statistics to check: the other mode is tried on the output alone.
  alternatives.push({
    option: `--mode ${mode}`,
    change: (c) => ({ ...c, mode, files: { ...c.files, refRunningMean: undefined, refRunningVar: undefined } }),
  });
  return alternatives;
}

async function conformsWith(check: CheckCase, alternative: Alternative, execution: ExecutionOptions): Promise<boolean> {
  const changed = alternative.change(check);
  if (changed === null) return false;
  try {
    return (await runCase(changed, execution)).conforms === true;
  } catch (error) {
    if (error instanceof BnCheckError) return false;
    throw error;
  }
}

/** @returns at most one finding: the first alternative under which most failing layers conform. */
export async function explainFailingLayers(
  checks: readonly CheckCase[],
  reports: readonly CaseReport[],
  execution: ExecutionOptions,
): Promise<ModelFinding[]> {
  const failing = reports
    .filter((report) => report.status === "fail")
    .map((report) => checks.find((check) => check.name === report.name)!);
  if (failing.length < MIN_FAILING) return [];
  for (const alternative of alternativesFor(failing[0])) {
    if (!(await conformsWith(failing[0], alternative, execution))) continue;
    const explained = [failing[0].name];
    for (const check of failing.slice(1))
      if (await conformsWith(check, alternative, execution)) explained.push(check.name);
    if (explained.length * 2 < failing.length) continue;
    const all = explained.length === failing.length;
    const message =
      `${all ? `all ${failing.length}` : `${explained.length} of the ${failing.length}`} failing ` +
      `layers conform with ${alternative.option}: the model was likely ${describe(alternative.option)}`;
    return [{ message, layers: explained }];
  }
  return [];
}

function describe(option: string): string {
  if (option.startsWith("--eps")) return `built with eps ${option.slice(6)}`;
  if (option.startsWith("--momentum")) return `built with momentum ${option.slice(11)}`;
  return `run in ${option.slice(7)} mode`;
}
