import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import {
  concatBytes,
  decodeBase64Loose,
  decodeBase64url,
  encodeBase64url,
  indexOfBytes,
  isCanonicalBase64url,
  readCapped,
  readUpTo,
} from "../../src/util/bytes.ts";

function streamOf(...chunks: number[][]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(Uint8Array.from(chunks[i++]));
      else controller.close();
    },
  });
}

Deno.test("concatBytes() joins byte arrays in order, and an empty list to nothing", () => {
  deepEqual([...concatBytes([Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)])], [1, 2, 3]);
  equal(concatBytes([]).length, 0);
});

Deno.test("indexOfBytes() finds a needle from an offset and answers -1 when it is absent", () => {
  const hay = Uint8Array.of(1, 2, 1, 2, 3);
  equal(indexOfBytes(hay, [1, 2, 3]), 2);
  equal(indexOfBytes(hay, [2], 2), 3);
  equal(indexOfBytes(hay, [3, 4]), -1);
});

Deno.test("readUpTo() returns a body that ends within the cap whole", async () => {
  const read = await readUpTo(streamOf([1, 2], [3]), 3);
  equal(read.done, true);
  if (read.done) deepEqual([...read.bytes], [1, 2, 3]);
});

Deno.test("readUpTo() hands back the chunks read and the reader of a body over the cap", async () => {
  const read = await readUpTo(streamOf([1, 2], [3, 4], [5]), 3);
  equal(read.done, false);
  if (read.done) return;
  deepEqual(read.head.map((c) => [...c]), [[1, 2], [3, 4]]);
  deepEqual([...(await read.reader.read()).value!], [5]);
});

Deno.test("readCapped() answers undefined over the cap, an empty array for no body", async () => {
  equal(await readCapped(streamOf([1, 2], [3, 4]), 3), undefined);
  deepEqual([...(await readCapped(streamOf([1, 2], [3]), 3))!], [1, 2, 3]);
  equal((await readCapped(null, 3))!.length, 0);
});

Deno.test("readCapped() rejects with the signal's reason when the signal aborts mid-body", async () => {
  const controller = new AbortController();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(Uint8Array.of(1));
      queueMicrotask(() => controller.abort(new Error("stop")));
    },
  });
  await rejects(readCapped(body, 100, { signal: controller.signal }), /stop/);
});

Deno.test("base64url round-trips and refuses every non-canonical spelling", () => {
  for (let n = 0; n < 20; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    const text = encodeBase64url(bytes);
    equal(isCanonicalBase64url(text), true);
    deepEqual([...decodeBase64url(text)], [...bytes]);
  }
  for (const bad of ["AB=", "A", "AB+/", "AB C", "AF", "AAB", "é"]) {
    equal(isCanonicalBase64url(bad), false, bad);
    throws(() => decodeBase64url(bad), TypeError);
  }
});

Deno.test("decodeBase64Loose() takes base64 and base64url, padded or not, and refuses garbage", () => {
  deepEqual([...decodeBase64Loose("-_8=")!], [0xfb, 0xff]);
  deepEqual([...decodeBase64Loose("+/8")!], [0xfb, 0xff]);
  equal(decodeBase64Loose("a b"), undefined);
  equal(decodeBase64Loose("A"), undefined);
});
