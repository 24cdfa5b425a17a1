// Maps a reference-corpus case folder (case.json) to `bn-check compare` arguments, with the same
// mapping `bn-check suite` uses (src/app/cases/corpus-case.ts, from the built package).
import { caseFromCorpusFolder, compareArgsOf } from "../dist/app/cases/corpus-case.js";

/** @param dir - the case folder; options.caseTolerance false = bn-check's default tolerances */
export function compareArgs(dir, { caseTolerance = true } = {}) {
  const check = caseFromCorpusFolder(dir);
  return compareArgsOf(caseTolerance ? check : { ...check, tolerance: { equalNan: check.tolerance?.equalNan } });
}
