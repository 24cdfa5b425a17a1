/**
 * Glob matching for `suite --filter`, in time linear in the pattern times the name: a dynamic
 * programme over (pattern position, name position) instead of a backtracking regular expression,
 * which a pattern such as `*a*a*a*a*a*a*a*b` can keep busy for minutes. Supported: `**` (any run
 * of characters), `*` (any run without `/`), `?` (one character but `/`), `[abc]`, `[a-z]`, `[!a]`,
 * and `{a,b}` alternatives (expanded first, at most 256 of them).
 */
import { UsageError } from "../../core/errors.js";

type Token =
  | { kind: "any" }
  | { kind: "star" }
  | { kind: "one" }
  | { kind: "class"; negated: boolean; ranges: [string, string][] }
  | { kind: "char"; char: string };

const MAX_ALTERNATIVES = 256;

/** `{a,b}` alternatives expanded into plain patterns (innermost braces first). */
function expandBraces(pattern: string): string[] {
  const open = pattern.lastIndexOf("{");
  if (open < 0) return [pattern];
  const close = pattern.indexOf("}", open);
  if (close < 0) return [pattern];
  const options = pattern.slice(open + 1, close).split(",");
  const expanded = options.flatMap((option) =>
    expandBraces(pattern.slice(0, open) + option + pattern.slice(close + 1)),
  );
  if (expanded.length > MAX_ALTERNATIVES)
    throw new UsageError(`--filter ${pattern}: more than ${MAX_ALTERNATIVES} alternatives`);
  return expanded;
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        tokens.push({ kind: "any" });
        i++;
      } else tokens.push({ kind: "star" });
    } else if (c === "?") tokens.push({ kind: "one" });
    else if (c === "[" && pattern.indexOf("]", i + 2) > 0) {
      const end = pattern.indexOf("]", i + 2);
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith("!") || body.startsWith("^");
      if (negated) body = body.slice(1);
      const ranges: [string, string][] = [];
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === "-" && k + 2 < body.length) {
          ranges.push([body[k], body[k + 2]]);
          k += 2;
        } else ranges.push([body[k], body[k]]);
      }
      tokens.push({ kind: "class", negated, ranges });
      i = end;
    } else if (c === "\\" && i + 1 < pattern.length) tokens.push({ kind: "char", char: pattern[++i] });
    else tokens.push({ kind: "char", char: c });
  }
  return tokens;
}

function matchesOne(token: Token, c: string): boolean {
  switch (token.kind) {
    case "one":
      return c !== "/";
    case "char":
      return token.char === c;
    case "class":
      return c !== "/" && token.ranges.some(([lo, hi]) => lo <= c && c <= hi) !== token.negated;
    default:
      return false;
  }
}

/** Whether the whole name matches the token list: O(tokens × name) time, O(name) memory. */
function matchTokens(tokens: readonly Token[], name: string): boolean {
  // reachable[j]: the tokens so far can consume exactly name[0..j).
  let reachable = new Uint8Array(name.length + 1);
  reachable[0] = 1;
  for (const token of tokens) {
    const next = new Uint8Array(name.length + 1);
    if (token.kind === "any" || token.kind === "star") {
      // Zero or more characters (`*` stops at '/').
      let open = false;
      for (let j = 0; j <= name.length; j++) {
        if (reachable[j]) open = true;
        if (open) next[j] = 1;
        if (token.kind === "star" && name[j] === "/") open = false;
      }
    } else {
      for (let j = 0; j < name.length; j++) if (reachable[j] && matchesOne(token, name[j])) next[j + 1] = 1;
    }
    reachable = next;
  }
  return reachable[name.length] === 1;
}

/** A matcher for a glob pattern. */
export function globMatcher(pattern: string): (name: string) => boolean {
  const alternatives = expandBraces(pattern).map(tokenize);
  return (name) => alternatives.some((tokens) => matchTokens(tokens, name));
}
