import assert from "node:assert/strict";
import { test } from "node:test";

import { backgroundBytes, toBase64 } from "../src/background-wire.js";

test("background bytes: base64 text (the state's form) and binary buffers give the same bytes", () => {
  const bytes = new Uint8Array(70000).map((_, i) => (i * 7) & 255);
  const b64 = toBase64(bytes);
  assert.equal(b64, Buffer.from(bytes).toString("base64"));
  assert.deepEqual(backgroundBytes({ image: b64 }), bytes);
  assert.deepEqual(backgroundBytes({ image: new DataView(bytes.buffer, 5, 10) }), bytes.subarray(5, 15));
  assert.deepEqual(backgroundBytes({ image: bytes.buffer }), bytes);
  assert.equal(backgroundBytes({ color: "#00ff00" }), null);
  assert.equal(backgroundBytes(undefined), null);
});
