// Extracts the `bn-check` examples of the Markdown docs: every line of a ```sh (bash, shell, console,
// zsh) fence that starts with `bn-check` or `npx bn-check`, as the argument list the CLI receives.
//
// What a block may hold, and how it is read:
// - `\` at the end of a line continues it; a leading `$ ` prompt is dropped; `# …` comments (whole
//   lines or after a word) are dropped.
// - `NAME=value` lines set a variable that later lines of the same block use as `$NAME` or `${NAME}`.
// - Single and double quotes group words as the shell does (no escapes inside single quotes).
// - Anything a plain argument list cannot express (a pipe, a redirect, `;`, `&`, `$(…)`, backquotes,
//   an unknown variable) is an error: the example must be rewritten or marked not-run.
// - Other lines (`npm install`, `node scripts/…`) are not bn-check examples and are left alone.
//
// A `npx bn-check …` code span in a table row (README's command table) is an example as well, run
// and expected to exit 0 (a table cell cannot carry a mark: such an example must run as written).
//
// Marks, an HTML comment on the last non-blank line before the fence:
//   <!-- example: not-run (why) -->   the block's commands are listed and counted, not run
//   <!-- example: exit N -->          the block's commands exit with N (default 0)
// Any other `<!-- example: … -->` is an error, as is a not-run mark without a reason.
//
// A fence with no info string right after the block (only blank lines between) is the output the doc
// shows for the block's last command. The first non-blank line after that ("Exit code 1: …",
// "Exit 1 here: …") is the exit code the prose states.

export interface DocExample {
  /** `README.md:21`: the file and the line the command starts on. */
  readonly id: string;
  readonly file: string;
  readonly line: number;
  /** The command as written (continuations joined, prompt and comment dropped). */
  readonly text: string;
  /** The arguments after `bn-check`, variables expanded. */
  readonly args: readonly string[];
  readonly notRun: string | undefined;
  readonly expectedExit: number;
  /** The exit code the prose after the block states, if it states one. */
  readonly proseExit: number | undefined;
  /** The lines of the output block the doc shows after this command, if any. */
  readonly shownOutput: readonly string[] | undefined;
}

export class DocExampleError extends Error {}

const SHELL_INFOS = new Set(["sh", "bash", "shell", "console", "zsh"]);
const COMMANDS = ["compare", "run", "diff", "matrix", "suite", "model", "fold", "detect"];
/**
 * A line of a non-shell fence that looks like a command a reader would copy (not a
 * usage synopsis with <placeholders>, not output such as `bn-check compare: torch`).
 */
const HIDDEN_COMMAND = new RegExp(`^\\s*(\\$\\s+)?(npx\\s+)?bn-check\\s+(${COMMANDS.join("|")})(\\s|$)`);

interface Fence {
  readonly info: string;
  /** 1-based line of the opening fence. */
  readonly start: number;
  readonly body: readonly string[];
  /** 0-based index of the line after the closing fence. */
  readonly after: number;
}

function readFence(lines: readonly string[], index: number): Fence | undefined {
  const open = /^(\s{0,3})(`{3,}|~{3,})\s*(.*)$/.exec(lines[index] ?? "");
  if (!open) return undefined;
  const marker = open[2]!;
  const body: string[] = [];
  for (let i = index + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim().startsWith(marker[0]!.repeat(marker.length)) && line.trim().replace(/[`~]/g, "") === "") {
      return { info: open[3]!.trim().split(/\s+/)[0] ?? "", start: index + 1, body, after: i + 1 };
    }
    body.push(line);
  }
  throw new DocExampleError(`line ${index + 1}: unclosed fence`);
}

function markBefore(lines: readonly string[], index: number, where: string): { notRun?: string; exit?: number } {
  let i = index - 1;
  while (i >= 0 && lines[i]!.trim() === "") i--;
  const mark = /^<!--\s*example:\s*(.*?)\s*-->$/.exec(lines[i]?.trim() ?? "");
  if (!mark) return {};
  const body = mark[1]!;
  const notRun = /^not-run\s*\((.+)\)$/.exec(body);
  if (notRun) return { notRun: notRun[1]!.trim() };
  const exit = /^exit\s+(\d+)$/.exec(body);
  if (exit) return { exit: Number(exit[1]) };
  throw new DocExampleError(`${where}: unknown example mark "${body}" (use "not-run (why)" or "exit N")`);
}

/**
 * Splits a command line into words as sh would for plain arguments; refuses what a plain argument list cannot express.
 */
export function shellWords(line: string, vars: ReadonlyMap<string, string>, where: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  const expand = (quoted: boolean): void => {
    const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(line.slice(i));
    if (!m)
      throw new DocExampleError(
        `${where}: "${line.slice(i, i + 2)}" is not a plain variable${quoted ? " (in double quotes)" : ""}`,
      );
    const name = m[1] ?? m[2]!;
    const value = vars.get(name);
    if (value === undefined) throw new DocExampleError(`${where}: $${name} is not set in this block`);
    word += value;
    inWord = true;
    i += m[0].length;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "#" && !inWord) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new DocExampleError(`${where}: unclosed '`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "$") expand(true);
        else if (line[i] === "`" || line[i] === "\\")
          throw new DocExampleError(`${where}: ${line[i]} inside double quotes`);
        else word += line[i++];
      }
      if (i >= line.length) throw new DocExampleError(`${where}: unclosed "`);
      i++;
    } else if (c === "$") {
      expand(false);
    } else if ("|&;<>`(){}\\*?[".includes(c)) {
      throw new DocExampleError(
        `${where}: "${c}" in a command: rewrite it as plain ` +
          `arguments or mark the block <!-- example: not-run (why) -->`,
      );
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The bn-check examples of one Markdown file. */
export function extractExamples(file: string, markdown: string): DocExample[] {
  const lines = markdown.split(/\r?\n/);
  const examples: DocExample[] = [];
  let i = 0;
  while (i < lines.length) {
    const fence = readFence(lines, i);
    if (!fence) {
      // A table row's `npx bn-check …` code spans (README's command table) are examples too, exit 0.
      if (lines[i]!.trimStart().startsWith("|")) {
        for (const span of lines[i]!.matchAll(/`(npx bn-check [^`]+)`/g)) {
          const where = `${file}:${i + 1}`;
          const text = span[1]!;
          examples.push({
            id: where,
            file,
            line: i + 1,
            text,
            args: shellWords(text, new Map(), where).slice(2),
            notRun: undefined,
            expectedExit: 0,
            proseExit: undefined,
            shownOutput: undefined,
          });
        }
      }
      i++;
      continue;
    }
    const where = `${file}:${fence.start}`;
    if (!SHELL_INFOS.has(fence.info)) {
      fence.body.forEach((line, k) => {
        if (HIDDEN_COMMAND.test(line) && !line.includes("<")) {
          throw new DocExampleError(
            `${file}:${fence.start + 1 + k}: a bn-check command in a ` +
              `\`\`\`${fence.info} fence is never run: make the fence \`\`\`sh`,
          );
        }
      });
      i = fence.after;
      continue;
    }
    const mark = markBefore(lines, i, where);
    // The output block shown after this one, and the prose after both.
    let next = fence.after;
    while (next < lines.length && lines[next]!.trim() === "") next++;
    const output = readFence(lines, next);
    let shownOutput: string[] | undefined;
    if (output && output.info === "") {
      shownOutput = [...output.body];
      next = output.after;
      while (next < lines.length && lines[next]!.trim() === "") next++;
    }
    const prose = /^(?:Exit code (\d+)\b|Exit (\d+) here\b)/.exec(lines[next] ?? "");
    const proseExit = prose ? Number(prose[1] ?? prose[2]) : undefined;

    const vars = new Map<string, string>();
    const blockExamples: DocExample[] = [];
    for (let k = 0; k < fence.body.length; k++) {
      const first = fence.start + 1 + k;
      let text = fence.body[k]!;
      while (/\\\s*$/.test(text) && k + 1 < fence.body.length)
        text = `${text.replace(/\\\s*$/, "")} ${fence.body[++k]!.trim()}`;
      text = text.trim().replace(/^\$\s+/, "");
      if (text === "" || text.startsWith("#")) continue;
      const lineWhere = `${file}:${first}`;
      const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(text);
      if (assignment) {
        vars.set(assignment[1]!, shellWords(assignment[2]!, vars, lineWhere).join(" "));
        continue;
      }
      if (!/^(npx\s+)?bn-check(\s|$)/.test(text)) continue;
      const words = shellWords(text, vars, lineWhere);
      const args = words.slice(words[0] === "npx" ? 2 : 1);
      blockExamples.push({
        id: lineWhere,
        file,
        line: first,
        text: text.replace(/\s+#.*$/, ""),
        args,
        notRun: mark.notRun,
        expectedExit: mark.exit ?? 0,
        proseExit,
        shownOutput: undefined,
      });
    }
    if (blockExamples.length === 0 && (mark.notRun !== undefined || mark.exit !== undefined)) {
      throw new DocExampleError(`${where}: an example mark on a block without a bn-check command`);
    }
    const last = blockExamples.pop();
    if (last) blockExamples.push({ ...last, shownOutput });
    examples.push(...blockExamples);
    i = fence.after;
  }
  return examples;
}
