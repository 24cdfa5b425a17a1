/** Types of detect-corpus.mjs: how `bn-check detect` scores on one corpus case folder. */
export function scoreCase(
  dir: string,
  readJson: (path: string) => unknown,
): { hit?: boolean; why?: string; fault?: boolean; skipped?: string };
