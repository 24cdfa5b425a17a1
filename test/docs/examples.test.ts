// Docs that stay true (issue #21 item 7): every `bn-check` example in a shell fence of README.md and
// docs/*.md runs here through the real CLI (bin/bn-check.cjs, cwd the repository root, as `npx bn-check`
// runs it), and must exit as the doc says (0 unless marked `<!-- example: exit N -->`, and as the prose
// after it says: "Exit code 1: …"), with no stack trace on stderr and, where the doc shows output, every
// shown line (bar `…`) in what the CLI prints. Examples that need the user's own files are marked
// `<!-- example: not-run (why) -->`: they are listed and counted below (never silently skipped) and their
// options are checked against `bn-check <command> --help`. The extraction rules are in doc-examples.ts.
//
// Files the examples write go to temporary directories, never the repository: `/tmp/…` paths map to one
// directory shared by the examples of one file (cli.md's `run -o /tmp/y.npy` feeds its `diff /tmp/y.npy`; writers
// run first), relative paths after an output option to a directory per example.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT } from "../helpers.js";
import { type DocExample, DocExampleError, extractExamples, shellWords } from "./doc-examples.js";

const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];

const EXAMPLES: DocExample[] = DOCS.flatMap((file) => extractExamples(file, readFileSync(join(ROOT, file), "utf8")));
const RUN = EXAMPLES.filter((example) => example.notRun === undefined);
const NOT_RUN = EXAMPLES.filter((example) => example.notRun !== undefined);

/** Options whose value is a file or directory the command writes. */
const WRITE_OPTIONS = new Set([
  "-o",
  "--output",
  "--report",
  "--report-dir",
  "--save-running-mean",
  "--save-running-var",
  "--save-grad-input",
  "--save-grad-weight",
  "--save-grad-bias",
]);

interface Planned {
  readonly example: DocExample;
  readonly args: readonly string[];
  /** Relative paths the example would have written into the repository (they must not appear there). */
  readonly repoWrites: readonly string[];
  readonly writesShared: boolean;
}

interface Result {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function plan(example: DocExample, shared: string, own: string): Planned {
  const args: string[] = [];
  const repoWrites: string[] = [];
  let writesShared = false;
  const mapPath = (value: string, writes: boolean): string => {
    if (value === "/tmp" || value.startsWith("/tmp/")) {
      if (writes) writesShared = true;
      return join(shared, value.slice("/tmp".length));
    }
    if (isAbsolute(value) || value.split("/").includes("..")) {
      throw new Error(
        `${example.id}: ${value} is outside the repository: use a fixture path or mark the block not-run`,
      );
    }
    if (!writes) return value;
    repoWrites.push(value);
    const target = join(own, value);
    mkdirSync(dirname(target), { recursive: true });
    return target;
  };
  for (let i = 0; i < example.args.length; i++) {
    const arg = example.args[i]!;
    const eq = /^(--[a-z-]+)=(.*)$/.exec(arg);
    if (eq) {
      args.push(`${eq[1]}=${mapPath(eq[2]!, WRITE_OPTIONS.has(eq[1]!))}`);
    } else if (WRITE_OPTIONS.has(arg) && i + 1 < example.args.length) {
      args.push(arg, mapPath(example.args[++i]!, true));
    } else {
      args.push(arg.startsWith("-") ? arg : mapPath(arg, false));
    }
  }
  return { example, args, repoWrites, writesShared };
}

function runBin(args: readonly string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

/** Runs the tasks with at most `width` at a time. */
async function pool<T, R>(items: readonly T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return results;
}

const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m;

describe("the bn-check examples of README.md and docs/*.md", () => {
  const results = new Map<string, { planned: Planned; result: Result }>();
  let base = "";

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), "bn-check-docs-"));
    // One /tmp per doc: README's table and cli.md both write /tmp/y.npy, and run refuses to overwrite.
    const planned = RUN.map((example, k) => {
      const shared = join(base, `tmp-${example.file.replace(/\W/g, "_")}`);
      mkdirSync(shared, { recursive: true });
      return plan(example, shared, join(base, `example-${k}`));
    });
    const width = Math.max(1, Math.min(2, availableParallelism()));
    // Writers of /tmp paths first: later examples read what they wrote.
    for (const phase of [planned.filter((p) => p.writesShared), planned.filter((p) => !p.writesShared)]) {
      await pool(phase, width, async (p) => {
        results.set(p.example.id, { planned: p, result: await runBin(p.args) });
      });
    }
  }, 120_000);

  afterAll(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it("finds the examples, and most of them run", () => {
    expect(DOCS).toContain("docs/cli.md");
    expect(RUN.length).toBeGreaterThanOrEqual(24);
    expect(RUN.length).toBeGreaterThan(NOT_RUN.length);
    // Every command of the CLI is shown running somewhere.
    expect(new Set(RUN.map((example) => example.args[0]))).toEqual(
      new Set(["compare", "run", "diff", "matrix", "suite", "model", "fold", "detect"]),
    );
  });

  it("lists every example that is not run, each with its reason", () => {
    const listed = NOT_RUN.map(
      (example) => `${example.file}: bn-check ` + `${example.args.join(" ")} — ${example.notRun}`,
    );
    // A new not-run example must be added here: nothing is skipped without being seen.
    expect(listed).toEqual([
      "docs/suite.md: bn-check suite ../shared/reference-corpus/cpu — needs the full " +
        "reference corpus beside the repository; fixtures/corpus holds a copy of part of it",
      "docs/suite.md: bn-check suite ../shared/reference-corpus/cpu --default-tolerances — needs " +
        "the full reference corpus beside the repository; fixtures/corpus holds a copy of part of it",
    ]);
  });

  it("not-run examples use only options their command has", async () => {
    const commands = [...new Set(NOT_RUN.map((example) => example.args[0]!))];
    const help = new Map<string, string>();
    for (const command of commands) {
      const run = await runBin([command, "--help"]);
      expect(run.status, `bn-check ${command} --help`).toBe(0);
      help.set(command, run.stdout);
    }
    for (const example of NOT_RUN) {
      const text = help.get(example.args[0]!)!;
      for (const option of example.args.filter((arg) => arg.startsWith("-"))) {
        expect(text, `${example.id}: ${option}`).toMatch(
          new RegExp(`(^|[\\s,])${option.replace(/=.*$/, "")}(?=[\\s,=]|$)`, "m"),
        );
      }
    }
  });

  it.each(RUN.map((example) => [`${example.id}: bn-check ${example.args.join(" ")}`, example] as const))(
    "%s",
    (_name, example) => {
      const run = results.get(example.id);
      expect(run, "ran").toBeDefined();
      const { planned, result } = run!;
      const context =
        `bn-check ${planned.args.join(" ")}\n--- stderr\n${result.stderr}\n--- ` +
        `stdout (end)\n${result.stdout.slice(-2000)}`;
      expect(result.signal, context).toBeNull();
      expect(result.status, context).toBe(example.expectedExit);
      if (example.proseExit !== undefined)
        expect(example.expectedExit, `${example.id}: the prose after the block says exit ${example.proseExit}`).toBe(
          example.proseExit,
        );
      expect(result.stderr, context).not.toMatch(STACK_FRAME);
      // A verdict (or, for run, what it wrote) on stdout, not an empty report.
      expect(result.stdout.trim().length, context).toBeGreaterThan(0);
      if (example.shownOutput) {
        const printed = new Set(`${result.stdout}\n${result.stderr}`.split("\n").map((line) => line.trimEnd()));
        for (const line of example.shownOutput) {
          const shown = line.trimEnd();
          if (shown === "" || shown.trim() === "…") continue;
          expect(
            printed.has(shown),
            `${example.id}: the doc shows\n${shown}\nbut the CLI printed\n${result.stdout}`,
          ).toBe(true);
        }
      }
      for (const written of planned.repoWrites)
        expect(existsSync(join(ROOT, written)), `${written} written into the repository`).toBe(false);
    },
  );
});

describe("the example extraction", () => {
  const md = (...lines: string[]): string => lines.join("\n");

  it("joins continuations, drops prompts and comments, expands the block's variables", () => {
    const examples = extractExamples(
      "x.md",
      md(
        "text",
        "<!-- example: exit 1 -->",
        "```sh",
        "# a comment",
        "C=fixtures/corpus/cpu/a",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, as a doc writes it
        "$ npx bn-check compare $C/input.npy ${C}/ref.npy \\",
        "    --filter 'gpu/*' --eps \"1e-3\"   # trailing comment",
        "npm test",
        "bn-check diff a.npy b.npy",
        "```",
        "```",
        "shown line",
        "```",
        "",
        "Exit code 1: because.",
      ),
    );
    expect(examples.map((e) => [e.id, e.args, e.expectedExit, e.proseExit, e.notRun])).toEqual([
      [
        "x.md:6",
        [
          "compare",
          "fixtures/corpus/cpu/a/input.npy",
          "fixtures/corpus/cpu/a/ref.npy",
          "--filter",
          "gpu/*",
          "--eps",
          "1e-3",
        ],
        1,
        1,
        undefined,
      ],
      ["x.md:9", ["diff", "a.npy", "b.npy"], 1, 1, undefined],
    ]);
    expect(examples[0]!.shownOutput).toBeUndefined();
    expect(examples[1]!.shownOutput).toEqual(["shown line"]);
  });

  it("reads a not-run mark with its reason, and refuses one without", () => {
    const [example] = extractExamples(
      "x.md",
      md(
        "<!-- example: not-run (needs your own checkpoint) -->",
        "",
        "```bash",
        "bn-check model --params ckpt.pt",
        "```",
      ),
    );
    expect(example!.notRun).toBe("needs your own checkpoint");
    expect(() =>
      extractExamples("x.md", md("<!-- example: not-run -->", "```sh", "bn-check run a.npy -o b.npy", "```")),
    ).toThrow(DocExampleError);
    expect(() =>
      extractExamples("x.md", md("<!-- example: skip -->", "```sh", "bn-check run a.npy -o b.npy", "```")),
    ).toThrow(/unknown example mark/);
  });

  it("refuses what a plain argument list cannot say, and commands hidden in other fences", () => {
    const vars = new Map<string, string>();
    for (const line of [
      "bn-check diff a.npy b.npy | head",
      "bn-check run a.npy > out",
      "bn-check diff $(ls) b",
      "bn-check diff $UNSET b",
      "bn-check diff *.npy",
    ]) {
      expect(() => shellWords(line, vars, "x"), line).toThrow(DocExampleError);
    }
    expect(() => extractExamples("x.md", md("```", "npx bn-check compare in.npy ref.npy", "```"))).toThrow(/never run/);
    // Output and usage synopses in plain fences are not commands.
    expect(
      extractExamples("x.md", md("```", "bn-check compare: torch", "bn-check model --params <state>", "```")),
    ).toEqual([]);
  });
});
