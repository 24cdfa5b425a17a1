// Structure-aware mutations of JSON documents for the fuzz tests of the readers whose files are JSON
// (safetensors headers, Polygraphy results): a value somewhere in the document replaced by one that
// broke readers before (huge, negative, fractional or non-numeric sizes, deep nesting, many values,
// long strings, wrong types), a key renamed or duplicated, or the text cut or changed byte-wise.
import fc from "fast-check";

/** The replacements a value may get. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    0,
    1,
    -1,
    1.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 64,
    1e308,
    Number.MIN_VALUE,
    "3",
    "",
    null,
    true,
    [],
    {},
    [0],
    [-1],
    [2 ** 40],
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  ),
  fc
    .integer({ min: 0, max: 6 })
    .map((depth) => JSON.parse(`${"[".repeat(depth * 10)}0${"]".repeat(depth * 10)}`) as unknown),
  fc.integer({ min: 1, max: 5 }).map((k) => Array.from({ length: 10 ** k }, () => 0)),
  fc.integer({ min: 1, max: 6 }).map((k) => "A".repeat(10 ** k)),
  fc.string({ maxLength: 12 }),
);

/** One mutation of a parsed document. */
export const jsonMutation = fc.oneof(
  fc.record({ kind: fc.constant("replace" as const), path: fc.array(fc.nat(), { maxLength: 8 }), value: hostileValue }),
  fc.record({
    kind: fc.constant("rename" as const),
    path: fc.array(fc.nat(), { maxLength: 8 }),
    name: fc.constantFrom("", "__proto__", "constructor", "x".repeat(5000), "a/b", "\u0000", "\u001b[31m"),
  }),
  fc.record({ kind: fc.constant("delete" as const), path: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }) }),
);
export type JsonMutation = typeof jsonMutation extends fc.Arbitrary<infer T> ? T : never;

/** The container a path leads to (each step an index into the keys or items there) and the key in it. */
function locate(root: unknown, path: readonly number[]): [Record<string, unknown> | unknown[], string | number] | null {
  let node = root;
  let parent: [Record<string, unknown> | unknown[], string | number] | null = null;
  for (const step of path) {
    if (Array.isArray(node) && node.length > 0) {
      parent = [node, step % node.length];
      node = node[step % node.length];
    } else if (typeof node === "object" && node !== null && Object.keys(node).length > 0) {
      const keys = Object.keys(node);
      parent = [node as Record<string, unknown>, keys[step % keys.length]];
      node = (node as Record<string, unknown>)[keys[step % keys.length]];
    } else break;
  }
  return parent;
}

/** The document's text after the mutation (a copy: the document is left as it was). */
export function mutateJson(document: unknown, mutation: JsonMutation): string {
  const root = structuredClone(document);
  const at = locate(root, mutation.path);
  if (at !== null) {
    const [container, key] = at;
    if (mutation.kind === "replace") (container as Record<string | number, unknown>)[key] = mutation.value;
    else if (mutation.kind === "delete") {
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete container[key as string];
    } else if (!Array.isArray(container)) {
      // Renamed in place, order kept; defineProperty makes even "__proto__" an own key, as
      // JSON.parse does, so that JSON.stringify writes it.
      const entries = Object.entries(container).map(
        ([name, value]) => [name === key ? mutation.name : name, value] as const,
      );
      for (const name of Object.keys(container)) delete container[name];
      for (const [name, value] of entries)
        Object.defineProperty(container, name, { value, enumerable: true, configurable: true, writable: true });
    }
  }
  return JSON.stringify(root);
}
