/**
 * import() of a package loaded on demand (vega, cli-progress). The CLI's launcher runs its bundle
 * through vm.Script to use V8's code cache (bin/bn-check.cjs), and on Node 20 a script compiled that
 * way has no loader for import(): the launcher hands one in as `globalThis.__bnCheckImport`. The
 * library, loaded as ES modules, imports directly.
 */
type Importer = (specifier: string) => Promise<unknown>;

export function importPackage<T>(specifier: string): Promise<T> {
  const launcherImport = (globalThis as { __bnCheckImport?: Importer }).__bnCheckImport;
  return (launcherImport !== undefined ? launcherImport(specifier) : import(specifier)) as Promise<T>;
}
