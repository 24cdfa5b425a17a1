/** Types of corpus-args.mjs: `bn-check compare` arguments for a reference-corpus case folder. */
export function compareArgs(dir: string, options?: { caseTolerance?: boolean }): string[];
