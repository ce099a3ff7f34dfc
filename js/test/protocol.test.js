import assert from "node:assert/strict";
import { test } from "node:test";
import { deflateSync } from "node:zlib";

import { decodeMask, inflate, packWs, ProtocolError, toUint8Array, unpackWs } from "../src/protocol.js";
import { pythonAvailable, runPython } from "../test-support/python.js";

const hex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString("hex");
const fromHex = (/** @type {string} */ s) => new Uint8Array(Buffer.from(s, "hex"));

const RESULT = {
  type: "result",
  seq: 41,
  t_capture: 1732500000123.4,
  mask: { width: 4, height: 2, encoding: "deflate" },
  classes: [
    [0, 0.75],
    [15, 0.25],
  ],
};
// pack_ws(RESULT, [b"\x00\x01\x02", b"xyz"]) from segwidget/protocol.py (regenerated below
// when python3 is available, so this copy cannot drift unnoticed).
const PY_RESULT_HEX =
  "000000967b2274797065223a22726573756c74222c22736571223a34312c22745f63617074757265223a3137" +
  "33323530303030303132332e342c226d61736b223a7b227769647468223a342c22686569676874223a322c22" +
  "656e636f64696e67223a226465666c617465227d2c22636c6173736573223a5b5b302c302e37355d2c5b3135" +
  "2c302e32355d5d2c2273697a6573223a5b332c335d7d00010278797a";

test("text frame for a message without buffers", () => {
  const packed = packWs({ type: "hello" });
  assert.equal(packed, '{"type":"hello"}');
  assert.deepEqual(unpackWs(packed), { header: { type: "hello" }, buffers: [] });
});

test("binary frame layout: u32 BE header length, JSON header with sizes, buffers", () => {
  const packed = /** @type {Uint8Array} */ (packWs({ type: "frame", seq: 1 }, [new Uint8Array([9, 8]), new Uint8Array([7])]));
  const head = '{"type":"frame","seq":1,"sizes":[2,1]}';
  assert.equal(new DataView(packed.buffer).getUint32(0, false), head.length);
  assert.deepEqual([...packed.subarray(0, 4)], [0, 0, 0, head.length]);
  assert.equal(Buffer.from(packed.subarray(4, 4 + head.length)).toString(), head);
  assert.deepEqual([...packed.subarray(4 + head.length)], [9, 8, 7]);
});

test("pack/unpack roundtrip keeps header and buffers, including empty ones", () => {
  const bufs = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(7)];
  const { header, buffers } = unpackWs(/** @type {Uint8Array} */ (packWs({ type: "x", note: "café ✓" }, bufs)));
  assert.deepEqual(header, { type: "x", note: "café ✓" });
  assert.deepEqual(buffers.map((b) => [...b]), bufs.map((b) => [...b]));
});

test("pack accepts ArrayBuffer and DataView buffers", () => {
  const ab = new Uint8Array([5, 6]).buffer;
  const dv = new DataView(new Uint8Array([0, 1, 2, 3]).buffer, 1, 2);
  const { buffers } = unpackWs(/** @type {Uint8Array} */ (packWs({ type: "x" }, [ab, dv])));
  assert.deepEqual(buffers.map((b) => [...b]), [[5, 6], [1, 2]]);
});

test("unpack accepts an ArrayBuffer (WebSocket binaryType arraybuffer)", () => {
  const packed = /** @type {Uint8Array} */ (packWs({ type: "x" }, [new Uint8Array([4])]));
  const ab = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength);
  assert.deepEqual([...unpackWs(ab).buffers[0]], [4]);
});

test("matches the bytes segwidget/protocol.py writes (hard-coded fixture)", () => {
  assert.equal(hex(/** @type {Uint8Array} */ (packWs(RESULT, [new Uint8Array([0, 1, 2]), new TextEncoder().encode("xyz")]))), PY_RESULT_HEX);
  const { header, buffers } = unpackWs(fromHex(PY_RESULT_HEX));
  assert.deepEqual(header, RESULT);
  assert.deepEqual(buffers.map((b) => [...b]), [[0, 1, 2], [120, 121, 122]]);
});

test("fixture is what protocol.py produces today, and python reads what we write", { skip: !pythonAvailable() && "python3 cannot import segwidget.protocol" }, () => {
  const fromPy = runPython(`
import json
h = json.loads(sys.stdin.read())
print(protocol.pack_ws(h, [b"\\x00\\x01\\x02", b"xyz"]).hex())
`, JSON.stringify(RESULT));
  assert.equal(fromPy, PY_RESULT_HEX);

  // non-ASCII: Python escapes it, we write UTF-8; each side reads the other's.
  const ours = /** @type {Uint8Array} */ (packWs({ type: "x", label: "café", n: 0.5 }, [new Uint8Array([255, 0])]));
  const back = runPython(`
h, b = protocol.unpack_ws(bytes.fromhex(sys.stdin.read()))
import json
print(json.dumps([h, [x.hex() for x in b]]))
`, hex(ours));
  assert.deepEqual(JSON.parse(back), [{ type: "x", label: "café", n: 0.5 }, ["ff00"]]);

  const pyUnicode = runPython(`print(protocol.pack_ws({"type": "x", "label": "caf\\u00e9"}, [b"a"]).hex())`);
  assert.deepEqual(unpackWs(fromHex(pyUnicode)).header, { type: "x", label: "café" });
  assert.equal(runPython(`print(protocol.pack_ws({"type": "hello"}))`), packWs({ type: "hello" }));
});

test("malformed messages raise ProtocolError with the protocol's codes", () => {
  const code = (/** @type {any} */ data) => {
    try {
      unpackWs(data);
    } catch (err) {
      assert.ok(err instanceof ProtocolError);
      return /** @type {ProtocolError} */ (err).code;
    }
    return "no error";
  };
  assert.equal(code(new Uint8Array([0, 0])), "BAD_FRAME");
  assert.equal(code(new Uint8Array([0, 0, 0, 50, 123])), "BAD_FRAME");
  assert.equal(code("{nope"), "BAD_JSON");
  assert.equal(code("[1, 2]"), "BAD_MESSAGE");
  assert.equal(code('{"type": 3}'), "BAD_MESSAGE");
  assert.equal(code("null"), "BAD_MESSAGE");
  const good = /** @type {Uint8Array} */ (packWs({ type: "x" }, [new Uint8Array([1, 2])]));
  assert.equal(code(good.subarray(0, good.length - 1)), "BAD_FRAME"); // sizes exceed payload
  const head = new TextEncoder().encode('{"type":"x","sizes":[1,-1]}');
  const bad = new Uint8Array(4 + head.length + 0);
  new DataView(bad.buffer).setUint32(0, head.length);
  bad.set(head, 4);
  assert.equal(code(bad), "BAD_FRAME");
});

test("a binary frame without sizes is one buffer (as in protocol.py)", () => {
  const head = new TextEncoder().encode('{"type":"x"}');
  const data = new Uint8Array(4 + head.length + 3);
  new DataView(data.buffer).setUint32(0, head.length);
  data.set(head, 4);
  data.set([1, 2, 3], 4 + head.length);
  const { header, buffers } = unpackWs(data);
  assert.deepEqual(header, { type: "x" });
  assert.deepEqual(buffers.map((b) => [...b]), [[1, 2, 3]]);
});

test("toUint8Array normalises DataView (JupyterLab), Uint8Array (Colab), ArrayBuffer", () => {
  const base = new Uint8Array([10, 11, 12, 13, 14]);
  const u8 = toUint8Array(base);
  assert.equal(u8, base); // no copy
  const dv = toUint8Array(new DataView(base.buffer, 1, 3));
  assert.deepEqual([...dv], [11, 12, 13]);
  assert.equal(dv.buffer, base.buffer); // a view, not a copy
  assert.deepEqual([...toUint8Array(base.buffer)], [10, 11, 12, 13, 14]);
  assert.deepEqual([...toUint8Array(new Uint16Array([0x0102]))].length, 2);
  assert.throws(() => toUint8Array(/** @type {any} */ ("text")), TypeError);
});

test("decodeMask inflates zlib streams (deflate) and passes raw through", async () => {
  const mask = new Uint8Array([0, 0, 15, 15, 0, 0, 0, 15]);
  assert.deepEqual([...(await decodeMask(deflateSync(mask), 4, 2, "deflate"))], [...mask]);
  assert.deepEqual([...(await decodeMask(mask, 4, 2, "raw"))], [...mask]);
  // zlib.compress(mask, 1) from protocol.encode_mask, level 1 header 78 01
  const py = fromHex("78016360e0e7676060e0070000bc002e");
  assert.deepEqual([...(await decodeMask(new DataView(py.buffer), 4, 2))], [...mask]);
  const big = new Uint8Array(320 * 240).map((_, i) => (i * 7) % 21);
  assert.deepEqual(await decodeMask(deflateSync(big), 320, 240, "deflate"), big);
});

test("decodeMask rejects size mismatches, bad streams and unknown encodings", async () => {
  await assert.rejects(decodeMask(new Uint8Array(7), 4, 2, "raw"), /7 bytes, expected 4x2/);
  await assert.rejects(decodeMask(deflateSync(new Uint8Array(9)), 4, 2, "deflate"), /9 bytes/);
  await assert.rejects(decodeMask(new Uint8Array([1, 2, 3]), 1, 1, "deflate"));
  await assert.rejects(decodeMask(new Uint8Array(1), 1, 1, "gzip"), /unknown mask encoding/);
  assert.deepEqual([...(await inflate(deflateSync(new Uint8Array([3]))))], [3]);
});

test("decodeMask matches protocol.encode_mask output", { skip: !pythonAvailable() && "python3 cannot import segwidget.protocol" }, async () => {
  const out = runPython(`
import numpy as np
m = (np.arange(48 * 64, dtype=np.uint32) * 7 % 151).astype(np.uint8).reshape(48, 64)
print(protocol.encode_mask(m, "deflate").hex())
`);
  const expected = new Uint8Array(48 * 64).map((_, i) => (i * 7) % 151);
  assert.deepEqual(await decodeMask(fromHex(out), 64, 48, "deflate"), expected);
});
