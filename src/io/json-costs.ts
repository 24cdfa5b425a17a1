/**
 * What JSON.parse would build from a text, bounded by one scan of its bytes before it is parsed
 * (nothing allocated; strings skipped with a native indexOf, so base64 strings of hundreds of MB
 * pass in milliseconds). Measured with Node 20: JSON.parse of a ten-million-deep array spent 12 s
 * and 2.1 GB before failing (a safetensors header of the same: 55 s and 2.8 GB), of ten million
 * empty objects 7 s and 840 MB, of an object of a million keys 1.3 s.
 */

/** The bounds of one format's JSON. */
export interface JsonLimits {
  /** Arrays and objects open at once. */
  readonly maxNesting: number;
  /** Values (every array or object, and every value after a comma): JSON.parse's work and memory. */
  readonly maxValues: number;
  /** The longest key, in bytes. */
  readonly maxKeyBytes: number;
  /** What the text is not, for the messages: "not a Polygraphy JSON file". */
  readonly notWhat: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPENS = new Set([0x5b, 0x7b]);
const CLOSES = new Set([0x5d, 0x7d]);
const WHITESPACE = new Set([0x20, 0x0a, 0x0d, 0x09]);

/**
 * The first bound the text breaks, as the problem an error states (with the byte offset where),
 * or null when it keeps them all. Malformed JSON is left to JSON.parse to name.
 */
export function jsonCostProblem(bytes: Uint8Array, limits: JsonLimits): string | null {
  let depth = 0;
  let values = 0;
  const tooMany = (at: number) =>
    `holds more than ${limits.maxValues.toLocaleString("en-US")} ` +
    `JSON values (at byte ${at}): ${limits.notWhat} bn-check reads`;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      // The closing quote is the next one not escaped by an odd run of backslashes.
      const start = i;
      for (;;) {
        i = bytes.indexOf(QUOTE, i + 1);
        if (i < 0) return null;
        let backslashes = 0;
        while (bytes[i - 1 - backslashes] === BACKSLASH) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      const length = i - start - 1;
      if (length > limits.maxKeyBytes) {
        let next = i + 1;
        while (WHITESPACE.has(bytes[next])) next++;
        if (bytes[next] === COLON)
          return (
            `has a key of ${length.toLocaleString("en-US")} bytes (at byte ${start}): ` +
            `keys are at most ${limits.maxKeyBytes.toLocaleString("en-US")} here`
          );
      }
    } else if (OPENS.has(byte)) {
      if (++depth > limits.maxNesting)
        return `nests arrays or objects more than ${limits.maxNesting} deep (at byte ${i}): ${limits.notWhat}`;
      if (++values > limits.maxValues) return tooMany(i);
    } else if (CLOSES.has(byte)) depth--;
    else if (byte === COMMA && ++values > limits.maxValues) return tooMany(i);
  }
  return null;
}
