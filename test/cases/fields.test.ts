// The field table (src/app/cases/fields.ts) against everything that spells a field: the manifest's JSON
// Schema, the CLI's options, and the corpus mapping.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { caseFromCorpusFolder, compareArgsOf } from "../../src/app/cases/corpus-case.js";
import { MANIFEST_CASE_KEYS, OPTION_FIELDS, TENSOR_FIELDS, TOLERANCE_FIELDS } from "../../src/app/cases/fields.js";
import { FIXTURES, readJson, ROOT, runCli } from "../helpers.js";

describe("the field table", () => {
  it("names exactly the manifest schema's case fields", () => {
    const schema = readJson<{ definitions: { caseFields: { properties: Record<string, unknown> } } }>(
      join(ROOT, "schema", "manifest.schema.json"),
    );
    const fromTable = [
      ...TENSOR_FIELDS.map((f) => f.manifestKey),
      ...OPTION_FIELDS.map((f) => f.manifestKey),
      ...TOLERANCE_FIELDS.map((f) => f.manifestKey),
      ...MANIFEST_CASE_KEYS,
    ];
    expect([...fromTable].sort()).toEqual(Object.keys(schema.definitions.caseFields.properties).sort());
  });

  it("every flag it names is an option of bn-check compare", () => {
    const help = runCli(["compare", "--help"]).stdout;
    for (const field of [...TENSOR_FIELDS, ...OPTION_FIELDS, ...TOLERANCE_FIELDS])
      if (field.flag !== null) expect(help).toContain(field.flag);
  });

  it("maps a corpus case folder's files by their names, and back to compare arguments", () => {
    const dir = join(FIXTURES, "corpus", "cpu", "pt-cpu-bn2d-f32-momNone-steps3");
    const check = caseFromCorpusFolder(dir);
    expect(Object.keys(check.files).sort()).toEqual(
      [
        "bias",
        "input",
        "reference",
        "refRunningMean",
        "refRunningMeanSteps",
        "refRunningVar",
        "refRunningVarSteps",
        "runningMean",
        "runningVar",
        "weight",
      ].sort(),
    );
    const args = compareArgsOf(check);
    for (const field of TENSOR_FIELDS)
      if (field.flag !== null && field.key in check.files) expect(args).toContain(field.flag);
    expect(args).toContain("--steps");
    expect(args[args.indexOf("--momentum") + 1]).toBe("none");
  });
});
