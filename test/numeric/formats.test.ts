import { describe, expect, it } from "vitest";
import { roundToBFloat16, roundToFloat16, ulpDistance } from "../../src/core/formats.js";

describe("roundToFloat16", () => {
  it("rounds to nearest with ties to even and overflows to infinity", () => {
    expect(roundToFloat16(1 + 2 ** -11)).toBe(1); // tie: 1 is even
    expect(roundToFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie: rounds up to even
    expect(roundToFloat16(65504)).toBe(65504);
    expect(roundToFloat16(65519.99)).toBe(65504);
    expect(roundToFloat16(65520)).toBe(Infinity);
    expect(roundToFloat16(-1e6)).toBe(-Infinity);
    expect(roundToFloat16(2 ** -24)).toBe(2 ** -24);
    expect(roundToFloat16(2 ** -26)).toBe(0);
    expect(roundToFloat16(0.1)).toBe(0.0999755859375);
  });

  it("rounds once from float64, unlike a detour through float32", () => {
    // 1 + 2^-11 + 2^-40 is just above the float16 tie: the correct result rounds up;
    // float32 first would drop the 2^-40 and then round the exact tie down to 1.
    const x = 1 + 2 ** -11 + 2 ** -40;
    expect(roundToFloat16(x)).toBe(1 + 2 ** -10);
  });
});

describe("roundToBFloat16", () => {
  it("keeps 8 significant bits", () => {
    expect(roundToBFloat16(1 + 2 ** -8)).toBe(1);
    expect(roundToBFloat16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(roundToBFloat16(Math.PI)).toBe(3.140625);
  });
});

describe("ulpDistance", () => {
  it("counts representable values between two numbers in the given format", () => {
    expect(ulpDistance("float32", 1, 1 + 2 ** -23)).toBe(1);
    expect(ulpDistance("float32", 1, 1 + 64 * 2 ** -23)).toBe(64);
    expect(ulpDistance("float32", -Math.fround(1e-45), Math.fround(1e-45))).toBe(2);
    expect(ulpDistance("float16", 1, 1 + 2 ** -10)).toBe(1);
    expect(ulpDistance("float16", 65504, Infinity)).toBe(1);
    expect(ulpDistance("bfloat16", 1, 1 + 2 ** -7)).toBe(1);
    expect(ulpDistance("float64", 1, 1 + 2 ** -52)).toBe(1);
    expect(ulpDistance("float64", -(2 ** -1074), 2 ** -1074)).toBe(2);
    expect(ulpDistance("float32", 0.1, 0.1)).toBe(0);
  });
});
