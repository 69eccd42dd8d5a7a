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

function keys<V>(lru: ReturnType<typeof createLru<string, V>>, candidates: string[]): string[] {
  return candidates.filter((k) => lru.peek(k) !== undefined);
}

Deno.test("lru: a get marks the entry recently used, so the least recently used one is evicted", () => {
  const lru = createLru<string, number>(2);
  lru.set("a", 1);
  lru.set("b", 2);
  assert.equal(lru.get("a"), 1);
  lru.set("c", 3);
  assert.deepEqual(keys(lru, ["a", "b", "c"]), ["a", "c"]);
});

Deno.test("lru: a get of the most recently used entry keeps the order, also after repeated gets", () => {
  const lru = createLru<string, number>(3);
  lru.set("a", 1);
  lru.set("b", 2);
  lru.set("c", 3);
  for (let i = 0; i < 5; i++) assert.equal(lru.get("c"), 3);
  assert.equal(lru.get("a"), 1);
  for (let i = 0; i < 5; i++) assert.equal(lru.get("a"), 1);
  lru.set("d", 4);
  // Order was b, c, a: b goes first.
  assert.deepEqual(keys(lru, ["a", "b", "c", "d"]), ["a", "c", "d"]);
  lru.set("e", 5);
  assert.deepEqual(keys(lru, ["a", "b", "c", "d", "e"]), ["a", "d", "e"]);
});

Deno.test("lru: deleting the most recently used entry, then getting another one, reorders that one", () => {
  const lru = createLru<string, number>(3);
  lru.set("a", 1);
  lru.set("b", 2);
  lru.set("c", 3);
  lru.delete("c");
  assert.equal(lru.get("c"), undefined);
  assert.equal(lru.get("a"), 1);
  lru.set("d", 4);
  lru.set("e", 5);
  // Order was b, a, d: adding e evicts b.
  assert.deepEqual(keys(lru, ["a", "b", "d", "e"]), ["a", "d", "e"]);
});

Deno.test("lru: setting an existing key makes it the most recently used; a re-set value is returned", () => {
  const lru = createLru<string, number>(2);
  lru.set("a", 1);
  lru.set("b", 2);
  lru.set("a", 10);
  assert.equal(lru.get("a"), 10);
  lru.set("c", 3);
  assert.deepEqual(keys(lru, ["a", "b", "c"]), ["a", "c"]);
  assert.equal(lru.size, 2);
});

Deno.test("lru: a bound of 0 keeps nothing and a bound of 1 keeps the last key", () => {
  const none = createLru<string, number>(0);
  none.set("a", 1);
  assert.equal(none.get("a"), undefined);
  assert.equal(none.size, 0);
  const one = createLru<string, number>(1);
  one.set("a", 1);
  assert.equal(one.get("a"), 1);
  one.set("b", 2);
  assert.equal(one.get("a"), undefined);
  assert.equal(one.get("b"), 2);
  assert.throws(() => createLru(-1), RangeError);
});
