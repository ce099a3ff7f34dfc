// Property-based fuzzing of the wire format and the mask decoder with fast-check.
//
// Arbitrary bytes, text and JSON give a message or the documented ProtocolError, never
// another exception, never a hang; a valid message still decodes after any invalid one.
// A fixed seed by default; SEGWIDGET_FUZZ_EXAMPLES runs more, SEGWIDGET_FUZZ_RANDOM=1 reseeds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deflateSync } from "node:zlib";

import { decodeMask, packWs, ProtocolError, unpackWs } from "../src/protocol.js";

/** @type {any} */
let fc = null;
try {
  fc = (await import("fast-check")).default;
} catch {
  // not installed (no `npm ci`): the tests below are skipped, saying so
}
const skip = !fc && "fast-check is not installed (run `npm ci`)";
const RUNS = Number(process.env.SEGWIDGET_FUZZ_EXAMPLES || 200);
const SEED = process.env.SEGWIDGET_FUZZ_RANDOM ? Date.now() : 20261201;
const OPTIONS = { numRuns: RUNS, seed: SEED };
const TIMEOUT = { timeout: 300_000 }; // a decoder that hangs fails here
const WIRE_CODES = ["BAD_JSON", "BAD_MESSAGE", "BAD_FRAME"];

/** Unpack, or check the error is the documented one; returns the message or null. */
function unpackOrDocumentedError(/** @type {any} */ data) {
  try {
    const msg = unpackWs(data);
    assert.equal(typeof msg.header.type, "string");
    assert.ok(!("sizes" in msg.header));
    assert.ok(msg.buffers.every((b) => b instanceof Uint8Array));
    return msg;
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `not a ProtocolError: ${err}`);
    assert.ok(WIRE_CODES.includes(/** @type {ProtocolError} */ (err).code), String(err));
    return null;
  }
}

function assertStillWorks() {
  const packed = packWs({ type: "frame", seq: 1 }, [new Uint8Array([7, 8])]);
  const { header, buffers } = unpackWs(packed);
  assert.deepEqual(header, { type: "frame", seq: 1 });
  assert.deepEqual([...buffers[0]], [7, 8]);
  assert.deepEqual(unpackWs('{"type":"hello"}').header, { type: "hello" });
}

/** A u32 big-endian length prefix followed by `body`. */
function framed(/** @type {number} */ n, /** @type {Uint8Array} */ body) {
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, n, false);
  out.set(body, 4);
  return out;
}

const header = () =>
  fc
    .tuple(fc.oneof(fc.constantFrom("frame", "result", "hello", "error"), fc.string()), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 }))
    .map(([type, fields]) => {
      const h = { ...fields, type };
      delete h.sizes; // packWs owns "sizes"
      return h;
    });

test("arbitrary bytes unpack or raise the documented ProtocolError", { skip, ...TIMEOUT }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      unpackOrDocumentedError(bytes);
      unpackOrDocumentedError(new DataView(bytes.buffer)); // JupyterLab hands DataViews
      assertStillWorks();
    }),
    OPTIONS,
  );
});

test("arbitrary text and JSON unpack or raise the documented ProtocolError", { skip, ...TIMEOUT }, () => {
  const deep = "[".repeat(100_000);
  for (const text of [deep, `{"type":"x","n":${"9".repeat(5000)}}`, '{"type":"x","n":NaN}', "null"]) {
    unpackOrDocumentedError(text);
  }
  unpackOrDocumentedError(framed(30_000, new TextEncoder().encode(deep.slice(0, 30_000))));
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      unpackOrDocumentedError(text);
      unpackOrDocumentedError(framed(new TextEncoder().encode(text).byteLength, new TextEncoder().encode(text)));
      assertStillWorks();
    }),
    OPTIONS,
  );
});

test("any header with any buffers round-trips", { skip, ...TIMEOUT }, () => {
  fc.assert(
    fc.property(header(), fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 4 }), (h, bufs) => {
      const { header: back, buffers } = unpackWs(packWs(h, bufs));
      assert.deepEqual(back, JSON.parse(JSON.stringify(h)));
      assert.deepEqual(buffers.map((b) => [...b]), bufs.map((b) => [...b]));
    }),
    OPTIONS,
  );
});

test("corrupted binary frames unpack or raise the documented ProtocolError", { skip, ...TIMEOUT }, () => {
  fc.assert(
    fc.property(
      header(),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 3 }),
      fc.constantFrom("truncate", "flip", "extend"),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (h, bufs, how, at, bits) => {
        let bytes = /** @type {Uint8Array} */ (packWs(h, bufs)).slice();
        const i = at % bytes.byteLength;
        if (how === "truncate") bytes = bytes.subarray(0, i);
        else if (how === "flip") bytes[i] ^= bits;
        else {
          const longer = new Uint8Array(bytes.byteLength + 1 + (at % 7)).fill(bits);
          longer.set(bytes);
          bytes = longer;
        }
        unpackOrDocumentedError(bytes);
        assertStillWorks();
      },
    ),
    OPTIONS,
  );
});

/** Decode, or check the rejection is a ProtocolError BAD_FRAME. */
async function decodeOrDocumentedError(/** @type {Uint8Array} */ data, /** @type {number} */ w, /** @type {number} */ h, /** @type {string} */ enc) {
  try {
    const mask = await decodeMask(data, w, h, enc);
    assert.equal(mask.byteLength, w * h);
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `not a ProtocolError: ${err}`);
    assert.equal(/** @type {ProtocolError} */ (err).code, "BAD_FRAME");
  }
}

test("arbitrary mask payloads decode or raise ProtocolError BAD_FRAME", { skip, ...TIMEOUT }, async () => {
  // a deflate bomb is not inflated whole: decoding stops past the expected size
  await decodeOrDocumentedError(deflateSync(new Uint8Array(50_000_000)), 4, 4, "deflate");
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 0, max: 64 }),
      fc.constantFrom("deflate", "raw"), // png needs a browser's createImageBitmap
      async (bytes, w, h, enc) => {
        await decodeOrDocumentedError(bytes, w, h, enc);
        await decodeOrDocumentedError(deflateSync(bytes), w, h, "deflate");
        const good = new Uint8Array([1, 2, 3, 4, 5, 6]);
        assert.deepEqual([...(await decodeMask(deflateSync(good), 3, 2))], [...good]);
      },
    ),
    { ...OPTIONS, numRuns: Math.max(1, Math.round(RUNS / 2)) },
  );
});

test("any mask round-trips through deflate", { skip, ...TIMEOUT }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 40 }).chain((h) => fc.integer({ min: 1, max: 40 }).chain((w) => fc.tuple(fc.constant(w), fc.constant(h), fc.uint8Array({ minLength: w * h, maxLength: w * h })))),
      async ([w, h, mask]) => {
        assert.deepEqual(await decodeMask(deflateSync(mask), w, h), mask);
      },
    ),
    { ...OPTIONS, numRuns: Math.max(1, Math.round(RUNS / 2)) },
  );
});
