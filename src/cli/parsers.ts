/** Option parsers for commander: every value is checked once, at the boundary. */
import { InvalidArgumentError } from "commander";

export function parseFloatOption(name: string, check: (value: number) => boolean, requirement: string) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === "" || Number.isNaN(value) || !check(value))
      throw new InvalidArgumentError(`${name} must be ${requirement}; got '${text}'`);
    return value;
  };
}

export function parseIntegerOption(name: string, minimum: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^[+-]?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < minimum) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${minimum}; got '${text}'`);
    }
    return value;
  };
}

export function parseAxis(text: string): number {
  if (!/^[+-]?\d+$/.test(text.trim()))
    throw new InvalidArgumentError(`channel axis must be an integer (negative counts from the end); got '${text}'`);
  return Number(text);
}

/** Returns "none" rather than null: commander replaces a null parse result with the option's default. */
export function parseMomentum(text: string): number | "none" {
  if (text.toLowerCase() === "none" || text.toLowerCase() === "null") return "none";
  const value = Number(text);
  if (text.trim() === "" || !(value >= 0 && value <= 1))
    throw new InvalidArgumentError(`momentum must be a number in [0, 1] or 'none'; got '${text}'`);
  return value;
}

/** `k/n` with 1 <= k <= n. */
export function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!(count >= 1 && index >= 1 && index <= count))
    throw new InvalidArgumentError(`shard must be k/n with 1 <= k <= n; got '${text}'`);
  return { index, count };
}
