// Run a snippet against segwidget/protocol.py, if python3 with numpy is available.
// The snippet sees `protocol` (the module) and reads/writes hex on stdin/stdout.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

// Import segwidget.protocol without running segwidget/__init__.py (which may pull in torch):
// a bare package module pointing at the source folder.
const PRELUDE = `
import sys, types
pkg = types.ModuleType("segwidget")
pkg.__path__ = [${JSON.stringify(path.join(ROOT, "segwidget"))}]
sys.modules["segwidget"] = pkg
from segwidget import protocol
`;

let available;

/** Whether python3 can import segwidget.protocol here. */
export function pythonAvailable() {
  if (available === undefined) {
    const r = spawnSync("python3", ["-c", PRELUDE], { encoding: "utf8", timeout: 60000 });
    available = r.status === 0;
  }
  return available;
}

/**
 * @param {string} code  Python, run after the prelude
 * @param {string} [input]  stdin
 * @returns {string} stdout, trimmed
 */
export function runPython(code, input = "") {
  const r = spawnSync("python3", ["-c", PRELUDE + code], { input, encoding: "utf8", timeout: 60000 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout.trim();
}
