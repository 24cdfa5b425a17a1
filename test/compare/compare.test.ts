import { describe, expect, it } from "vitest";
import { compareTensors } from "../../src/check/compare.js";
import { resolveTolerance } from "../../src/check/tolerance.js";
import { formatPercent } from "../../src/core/format.js";

const t = (data: number[], shape = [data.length]) => ({
  shape,
  data: Float64Array.from(data),
  dtype: "float32" as const,
});

describe("compareTensors", () => {
  it("applies |a - b| <= atol + rtol * |b| with b the reference", () => {
    const result = compareTensors(t([1.1, 2, 100.5]), t([1, 2, 100]), { atol: 0.1, rtol: 0.003 });
    // 0.1000000000000000888 <= 0.1 + 0.003 passes; 0.5 > 0.1 + 0.3 fails.
    expect(result.mismatches).toBe(1);
    expect(result.maxAbsError?.flatIndex).toBe(2);
    expect(result.maxAbsError?.absError).toBe(0.5);
    expect(result.requiredAtol).toBeCloseTo(0.5 - 0.3, 15);
    expect(result.requiredRtol).toBeCloseTo((0.5 - 0.1) / 100, 15);
  });

  it("NaN fails unless equalNan, and then matches only NaN", () => {
    expect(compareTensors(t([NaN, 1]), t([NaN, 1]), { atol: 0, rtol: 0 }).mismatches).toBe(1);
    expect(compareTensors(t([NaN, 1]), t([NaN, 1]), { atol: 0, rtol: 0, equalNan: true }).mismatches).toBe(0);
    const oneSided = compareTensors(t([NaN, 1]), t([0, NaN]), { atol: 1, rtol: 1, equalNan: true });
    expect([oneSided.mismatches, oneSided.nonFiniteMismatches, oneSided.requiredAtol]).toEqual([2, 2, Infinity]);
  });

  it("an infinity matches only the same infinity", () => {
    const result = compareTensors(t([Infinity, -Infinity, Infinity]), t([Infinity, Infinity, 3e38]), {
      atol: 1,
      rtol: 1,
    });
    expect(result.mismatches).toBe(2);
    expect(result.worst.map((e) => e.flatIndex)).toEqual([1, 2]);
  });

  it("reports the N-d index of the worst element and per-channel mismatch counts", () => {
    const result = compareTensors(t([0, 0, 0, 0, 0, 0.5], [3, 2]), t([0, 0, 0, 0, 0, 0], [3, 2]), {
      atol: 0.1,
      rtol: 0,
      channelAxis: 1,
    });
    expect(result.maxAbsError?.index).toEqual([2, 1]);
    expect(result.channels.map((c) => c.mismatches)).toEqual([0, 1]);
  });

  it("a shape mismatch fails with no element-wise statistics", () => {
    const result = compareTensors(t([1, 2, 3, 4], [2, 2]), t([1, 2, 3, 4], [4]));
    expect(result.passed).toBe(false);
    expect(result.shapeMismatch).toBe(true);
  });

  it("counts ulps in the reference's dtype (or the compute dtype)", () => {
    const one = 1;
    const next32 = 1 + 2 ** -23;
    expect(compareTensors(t([next32]), t([one])).maxUlp?.ulps).toBe(1);
    expect(compareTensors(t([1 + 2 ** -7]), t([one]), { computeDtype: "bfloat16" }).maxUlp?.ulps).toBe(1);
  });
});

describe("resolveTolerance", () => {
  it("takes torch.testing's defaults by dtype and says so", () => {
    expect(resolveTolerance("float32")).toEqual({
      rtol: 1.3e-6,
      atol: 1e-5,
      source: "torch.testing.assert_close default for float32",
    });
    expect(resolveTolerance("bfloat16")).toMatchObject({ rtol: 1.6e-2, atol: 1e-5 });
    expect(resolveTolerance("float16")).toMatchObject({ rtol: 1e-3, atol: 1e-5 });
    expect(resolveTolerance("float64")).toMatchObject({ rtol: 1e-7, atol: 1e-7 });
    expect(resolveTolerance("float32", { atol: 1e-3 })).toEqual({
      atol: 1e-3,
      rtol: 1.3e-6,
      source: "atol given, rtol: torch.testing.assert_close default for float32",
    });
  });
});

describe("formatPercent", () => {
  it("never shows a non-zero fraction as 0% or a partial one as 100%", () => {
    expect(formatPercent(1, 1_000_000)).toBe("0.0001%");
    expect(formatPercent(1, 2001)).toBe("0.05%");
    expect(formatPercent(999_999, 1_000_000)).toBe("99.9999%");
    expect(formatPercent(0, 10)).toBe("0%");
    expect(formatPercent(10, 10)).toBe("100%");
  });
});
