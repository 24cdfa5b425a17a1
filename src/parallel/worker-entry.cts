/**
 * The file piscina loads in each worker. Piscina first tries `require(filename)`; on Node 20.19+
 * that takes the require(esm) path for an ES module, which can abort the process with a V8 fatal
 * error ("IsGraphAsync must be used on an instantiated module") when several workers start at once.
 * This CommonJS entry is required without touching that path and imports the ES worker itself.
 */
type Task = import("./task.js").WorkerTask;
type TaskResult = import("./task.js").TaskResult;

// Loaded as soon as the worker starts (not at its first task), so that a pre-warmed pool is ready.
const worker: Promise<{ default: (task: Task) => TaskResult }> = import("./worker.js");

async function runTask(task: Task): Promise<TaskResult> {
  return (await worker).default(task);
}

export = runTask;
