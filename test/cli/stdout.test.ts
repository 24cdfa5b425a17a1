// The CLI's standard output (src/cli/stdout.ts): a pipe or a file is written directly, in order,
// whatever the kernel takes per write; a pipe that would block hands the rest, and every later write,
// to process.stdout; a closed pipe drops the rest silently; a terminal goes through process.stdout.
import { beforeEach, describe, expect, it, vi } from "vitest";

const fs = vi.hoisted(() => ({ writeSync: vi.fn(), fstatSync: vi.fn() }));
vi.mock("node:fs", async (original) => ({ ...(await original<typeof import("node:fs")>()), ...fs }));

const kind = (what: "fifo" | "file" | "tty") => ({
  isFIFO: () => what === "fifo",
  isSocket: () => false,
  isFile: () => what === "file",
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

let streamed: string[];

async function freshModule() {
  vi.resetModules();
  return import("../../src/cli/stdout.js");
}

beforeEach(() => {
  fs.writeSync.mockReset();
  fs.fstatSync.mockReset();
  streamed = [];
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array) => {
    streamed.push(Buffer.from(chunk).toString());
    return true;
  }) as typeof process.stdout.write);
});

describe("writeStdout", () => {
  it("writes a pipe directly, taking up what each write left, and never creates the stream", async () => {
    fs.fstatSync.mockReturnValue(kind("fifo"));
    const landed: string[] = [];
    // The kernel takes at most 3 bytes per write.
    fs.writeSync.mockImplementation((_fd: number, bytes: Uint8Array, offset: number) => {
      const taken = Math.min(3, bytes.length - offset);
      landed.push(Buffer.from(bytes.subarray(offset, offset + taken)).toString());
      return taken;
    });
    const { writeStdout } = await freshModule();
    writeStdout("conforms ≤ 1 ulp\n");
    writeStdout("second\n");
    expect(landed.join("")).toBe("conforms ≤ 1 ulp\nsecond\n");
    expect(fs.writeSync.mock.calls.every(([fd]) => fd === 1)).toBe(true);
    expect(streamed).toEqual([]);
    expect(fs.fstatSync).toHaveBeenCalledTimes(1);
  });

  it("hands the rest to process.stdout when the pipe would block, and every later write after it", async () => {
    fs.fstatSync.mockReturnValue(kind("fifo"));
    fs.writeSync
      .mockImplementationOnce(() => 4)
      .mockImplementationOnce(() => {
        throw errno("EAGAIN");
      });
    const { writeStdout } = await freshModule();
    writeStdout("abcdefgh");
    writeStdout("ij");
    expect(streamed).toEqual(["efgh", "ij"]);
    expect(fs.writeSync).toHaveBeenCalledTimes(2);
  });

  it("drops the rest without an error when the reader closed the pipe", async () => {
    fs.fstatSync.mockReturnValue(kind("file"));
    fs.writeSync.mockImplementation(() => {
      throw errno("EPIPE");
    });
    const { writeStdout } = await freshModule();
    expect(() => writeStdout("lost")).not.toThrow();
    expect(streamed).toEqual([]);
  });

  it("writes a terminal, or a closed descriptor, through process.stdout", async () => {
    fs.fstatSync.mockReturnValue(kind("tty"));
    let module = await freshModule();
    module.writeStdout("to the terminal");
    fs.fstatSync.mockImplementation(() => {
      throw errno("EBADF");
    });
    module = await freshModule();
    module.writeStdout("to nowhere");
    expect(streamed).toEqual(["to the terminal", "to nowhere"]);
    expect(fs.writeSync).not.toHaveBeenCalled();
  });

  it("asks whether stdout is a terminal only when it is not a pipe or a file", async () => {
    fs.fstatSync.mockReturnValue(kind("fifo"));
    expect((await freshModule()).stdoutIsTerminal()).toBe(false);
  });
});
