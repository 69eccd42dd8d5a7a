import assert from "node:assert/strict";
import { createLru } from "../../src/util/lru.ts";

Deno.test("createLru() evicts the least recently used entry past its bound; get() refreshes, peek() does not", () => {
  const lru = createLru<string, number>(2);
  lru.set("a", 1);
  lru.set("b", 2);
  assert.equal(lru.get("a"), 1); // order: b, a
  lru.set("c", 3); // evicts b; order: a, c
  assert.equal(lru.peek("b"), undefined);
  assert.equal(lru.peek("a"), 1); // order stays a, c
  lru.set("d", 4); // evicts a
  assert.equal(lru.peek("a"), undefined);
  assert.deepEqual([lru.peek("c"), lru.peek("d"), lru.size], [3, 4, 2]);
  lru.set("c", 30); // replacing refreshes; order: d, c
  lru.set("e", 5); // evicts d
  assert.deepEqual([lru.peek("d"), lru.peek("c"), lru.peek("e")], [undefined, 30, 5]);
  lru.delete("c");
  assert.equal(lru.size, 1);
});

Deno.test("createLru(0) keeps nothing and a bad bound is refused", () => {
  const none = createLru<string, number>(0);
  none.set("a", 1);
  assert.equal(none.get("a"), undefined);
  assert.equal(none.size, 0);
  assert.throws(() => createLru(-1), RangeError);
  assert.throws(() => createLru(1.5), RangeError);
});
