/**
 * Parses the header of a .npy file as data. The header is a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }`; it is tokenised and checked, never
 * evaluated, and anything outside that small grammar is an error.
 *
 * Reference: numpy/lib/format.py (`_read_array_header`, `header_data_from_array_1_0`).
 */
export interface NpyHeader {
  readonly descr: string;
  readonly fortranOrder: boolean;
  readonly shape: number[];
}

type PyValue = string | boolean | number | PyValue[] | { tuple: PyValue[] };

class HeaderSyntaxError extends Error {}

/** @throws Error with a message that describes what is wrong with the header text. */
export function parseNpyHeader(text: string): NpyHeader {
  const parser = new LiteralParser(text);
  let dict: Map<string, PyValue>;
  try {
    dict = parser.parseDict();
    parser.expectEnd();
  } catch (error) {
    if (error instanceof HeaderSyntaxError) throw new Error(`header is not a valid dict literal (${error.message})`);
    throw error;
  }
  const keys = [...dict.keys()].sort();
  const expected = ["descr", "fortran_order", "shape"];
  if (keys.join(",") !== expected.join(",")) {
    const missing = expected.filter((k) => !dict.has(k));
    const extra = keys.filter((k) => !expected.includes(k));
    const parts = [];
    if (missing.length > 0) parts.push(`missing ${missing.map((k) => `'${k}'`).join(", ")}`);
    if (extra.length > 0) parts.push(`unexpected ${extra.map((k) => `'${k}'`).join(", ")}`);
    throw new Error(`header keys are wrong: ${parts.join("; ")}`);
  }
  const descr = dict.get("descr");
  if (typeof descr !== "string") {
    throw new Error("header 'descr' is not a simple dtype string (structured dtypes are not supported)");
  }
  const fortranOrder = dict.get("fortran_order");
  if (typeof fortranOrder !== "boolean") throw new Error("header 'fortran_order' is not True or False");
  const shapeValue = dict.get("shape");
  if (typeof shapeValue !== "object" || shapeValue === null || !("tuple" in shapeValue)) {
    throw new Error("header 'shape' is not a tuple");
  }
  const shape = shapeValue.tuple.map((dim) => {
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
      throw new Error(`header 'shape' has an invalid dimension ${JSON.stringify(dim)} (dimensions are integers >= 0)`);
    }
    return dim;
  });
  return { descr, fortranOrder, shape };
}

class LiteralParser {
  private position = 0;
  constructor(private readonly text: string) {}

  parseDict(): Map<string, PyValue> {
    this.skipSpace();
    this.expect("{");
    const entries = new Map<string, PyValue>();
    for (;;) {
      this.skipSpace();
      if (this.peek() === "}") break;
      const key = this.parseValue();
      if (typeof key !== "string") throw new HeaderSyntaxError("dict keys must be strings");
      if (entries.has(key)) throw new HeaderSyntaxError(`duplicate key '${key}'`);
      this.skipSpace();
      this.expect(":");
      entries.set(key, this.parseValue());
      this.skipSpace();
      if (this.peek() === ",") {
        this.position++;
        continue;
      }
      if (this.peek() !== "}") throw new HeaderSyntaxError(`expected ',' or '}' at offset ${this.position}`);
    }
    this.expect("}");
    return entries;
  }

  expectEnd(): void {
    this.skipSpace();
    if (this.position !== this.text.length)
      throw new HeaderSyntaxError(`unexpected text after the dict at offset ${this.position}`);
  }

  private parseValue(): PyValue {
    this.skipSpace();
    const ch = this.peek();
    if (ch === "'" || ch === '"') return this.parseString(ch);
    if (ch === "(" || ch === "[") return this.parseSequence(ch);
    if (ch === "{") throw new HeaderSyntaxError("nested dicts are not supported");
    const word = /^(True|False|[+-]?\d+L?)/.exec(this.text.slice(this.position));
    if (word === null)
      throw new HeaderSyntaxError(
        `unexpected character ${JSON.stringify(ch ?? "end of header")} at offset ${this.position}`,
      );
    this.position += word[0].length;
    if (word[0] === "True") return true;
    if (word[0] === "False") return false;
    // Python 2 headers may write long integers with an L suffix.
    return Number(word[0].replace(/L$/, ""));
  }

  private parseString(quote: string): string {
    this.position++;
    const start = this.position;
    while (this.position < this.text.length && this.text[this.position] !== quote) {
      if (this.text[this.position] === "\\")
        throw new HeaderSyntaxError("escape sequences in strings are not supported");
      this.position++;
    }
    if (this.position >= this.text.length) throw new HeaderSyntaxError("unterminated string");
    const value = this.text.slice(start, this.position);
    this.position++;
    return value;
  }

  private parseSequence(open: string): PyValue {
    const close = open === "(" ? ")" : "]";
    this.position++;
    const items: PyValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === close) break;
      items.push(this.parseValue());
      this.skipSpace();
      if (this.peek() === ",") {
        this.position++;
        continue;
      }
      if (this.peek() !== close) throw new HeaderSyntaxError(`expected ',' or '${close}' at offset ${this.position}`);
    }
    this.position++;
    return open === "(" ? { tuple: items } : items;
  }

  private skipSpace(): void {
    while (this.position < this.text.length && /\s/.test(this.text[this.position])) this.position++;
  }

  private peek(): string | undefined {
    return this.text[this.position];
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) throw new HeaderSyntaxError(`expected '${ch}' at offset ${this.position}`);
    this.position++;
  }
}
