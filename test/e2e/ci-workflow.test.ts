// The GitHub Actions workflow in docs/ci.md, run locally: the YAML parses, and every `run:` line of
// its job works on a shard as a runner would run it (bash, the job's env, matrix values substituted,
// GITHUB_STEP_SUMMARY set). `npm ci` is skipped: the suite already runs on an installed checkout.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../helpers.js";

interface Step {
  readonly name?: string;
  readonly run?: string;
  readonly uses?: string;
}
interface Workflow {
  readonly jobs: Record<
    string,
    {
      readonly strategy: { readonly matrix: { readonly shard: number[] } };
      readonly env: Record<string, string | number>;
      readonly steps: Step[];
    }
  >;
}

const markdown = readFileSync(join(ROOT, "docs", "ci.md"), "utf8");
const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(markdown)?.[1] ?? "";
const workflow = parse(yamlBlock) as Workflow;
const job = workflow.jobs.conformance;
const work = mkdtempSync(join(tmpdir(), "bn-check-ci-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the CI workflow in docs/ci.md", () => {
  it("parses, with a shard matrix and steps that run bn-check", () => {
    expect(job.strategy.matrix.shard).toEqual([1, 2, 3, 4]);
    expect(Number(job.env.SHARDS)).toBe(job.strategy.matrix.shard.length);
    expect(job.steps.filter((step) => step.run?.includes("bn-check suite")).length).toBe(3);
  });

  it("every run: line works on each shard, and the shards together cover the suite once", () => {
    const summary = join(work, "summary.md");
    const reports: string[] = [];
    for (const shard of job.strategy.matrix.shard) {
      for (const step of job.steps) {
        if (step.run === undefined || step.run.startsWith("npm ci")) continue;
        // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub's expression syntax, replaced as the runner would.
        const command = step.run.replaceAll("${{ matrix.shard }}", String(shard));
        const env = {
          HOME: work,
          PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
          NO_COLOR: "1",
          GITHUB_STEP_SUMMARY: summary,
          ...Object.fromEntries(Object.entries(job.env).map(([k, v]) => [k, String(v)])),
        };
        const run = spawnSync("bash", ["-eo", "pipefail", "-c", command], {
          cwd: ROOT,
          env,
          encoding: "utf8",
          maxBuffer: 1 << 28,
        });
        expect(run.status, `${step.name}: ${run.stderr}`).toBe(0);
        if (command.includes("--format github"))
          expect(run.stdout).toMatch(/^::notice title=bn-check suite::\d+ of \d+ case\(s\) passed$/m);
      }
      const report = join(ROOT, "reports", `bn-check-${shard}.xml`);
      expect(existsSync(report)).toBe(true);
      reports.push(readFileSync(report, "utf8"));
    }
    rmSync(join(ROOT, "reports"), { recursive: true, force: true });
    expect(readFileSync(summary, "utf8")).toMatch(/^### bn-check suite: ✅ \d+ \/ \d+ passed$/m);
    // The four JUnit reports name every case folder of the suite exactly once.
    const names = reports.flatMap((xml) => {
      const suites = new XMLParser({ ignoreAttributes: false }).parse(xml).testsuites.testsuite;
      return (Array.isArray(suites) ? suites : [suites]).map((s: { "@_name": string }) => s["@_name"]);
    });
    const all = JSON.parse(
      spawnSync(
        process.execPath,
        [join(ROOT, "bin", "bn-check.cjs"), "suite", "fixtures/corpus", "--format", "json", "--quiet"],
        { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 28 },
      ).stdout,
    ).cases.map((c: { name: string }) => c.name);
    expect([...names].sort()).toEqual([...all].sort());
    // Thirteen processes, twelve through npx (half a second each to start): 14 s on a quiet machine,
    // over vitest's 30 s default on a loaded one. A time limit here guards against a hang, not speed.
  }, 120_000);
});
