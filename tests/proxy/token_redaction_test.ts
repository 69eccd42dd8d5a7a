/**
 * Our token never comes back: with the token in the URL or a form, every answer of any type and size is redacted
 * as it streams (bodies and headers); API keys travel only in the header.
 */
import assert from "node:assert/strict";
import { createTokenRedactor, REDACTED } from "../../src/proxy/token_redaction.ts";
import { createProxyHandler } from "../../src/proxy/mod.ts";
import { entry, IDENTITY, PROXY, proxyConfig, SERVICES } from "./_harness.ts";

const TOKEN = "AAPT+k3y/with=chars.0123456789";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function throughStream(chunks: Uint8Array[]): Promise<string> {
  let i = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
  const stream = source.pipeThrough(createTokenRedactor(TOKEN).stream());
  return decoder.decode(await new Response(stream).arrayBuffer());
}

Deno.test("the redaction stream finds the token plain and URL-encoded, split at every byte", async () => {
  const text = `a${TOKEN}b${encodeURIComponent(TOKEN)}c${TOKEN}${TOKEN}`;
  const expected = `a${REDACTED}b${REDACTED}c${REDACTED}${REDACTED}`;
  const bytes = encoder.encode(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.equal(await throughStream([bytes.slice(0, cut), bytes.slice(cut)]), expected, `cut at ${cut}`);
  }
  assert.equal(await throughStream([...bytes].map((b) => Uint8Array.of(b))), expected, "one byte a chunk");
  const plain = "no token here, only a prefix AAPT+k3y/with=chars.012345678";
  assert.equal(await throughStream([encoder.encode(plain)]), plain, "other bytes pass unchanged");
});

Deno.test("the redactor changes header text and byte arrays, and leaves token-free input as it is", () => {
  const redactor = createTokenRedactor(TOKEN);
  assert.equal(redactor.text(`x ${encodeURIComponent(TOKEN)} y`), `x ${REDACTED} y`);
  const clean = encoder.encode("clean");
  assert.equal(redactor.bytes(clean), clean);
  assert.equal(decoder.decode(redactor.bytes(encoder.encode(`${TOKEN}!`))), `${REDACTED}!`);
});

interface Upstream {
  urls: string[];
  headers: Headers[];
  pulls: number;
}

/** A handler whose upstream echoes the token it got in a long streamed body (and a header) of `chunks` chunks. */
function echoing(tokenIn: "header" | "query", options: { headerOnly?: boolean; chunks?: number } = {}) {
  const seen: Upstream = { urls: [], headers: [], pulls: 0 };
  const chunks = options.chunks ?? 64;
  const handler = createProxyHandler(
    {
      proxy: proxyConfig([entry(`${SERVICES}/`, { tokenIn })]),
      ...(options.headerOnly === true ? { headerOnlyProfiles: ["basemap"] } : {}),
    },
    {
      fetch: (input: URL | RequestInfo, init?: RequestInit) => {
        const url = String(input);
        seen.urls.push(url);
        seen.headers.push(new Headers(init?.headers));
        const sent = new URL(url).searchParams.get("token") ?? TOKEN;
        const piece = encoder.encode(`{"next":"${url}","t":"${sent}"},`.padEnd(1000, " "));
        let n = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            seen.pulls++;
            if (n++ === chunks) return controller.close();
            // Split every piece in two, so the token straddles chunks.
            controller.enqueue(piece.slice(0, 37));
            controller.enqueue(piece.slice(37));
          },
        }, { highWaterMark: 0 });
        return Promise.resolve(
          new Response(body, {
            headers: {
              "content-type": "text/plain",
              "content-disposition": `inline; filename="${sent}.txt"`,
            },
          }),
        );
      },
      log: () => {},
    },
    { tokens: (_i, profile) => Promise.resolve({ token: TOKEN, expires: Date.now() + 60_000, profile }) },
  );
  const call = (path: string, profiles = ["viewer"]) =>
    handler.handle(new Request(`${PROXY}?${SERVICES}/${path}`), { identity: IDENTITY, profiles });
  return { seen, call };
}

Deno.test("proxy: with the token in the query, a long streamed answer and its headers come back redacted", async () => {
  const { seen, call } = echoing("query");
  const response = await call("X/MapServer?f=json");
  assert.ok(seen.urls[0].includes(`token=${encodeURIComponent(TOKEN)}`), "the token travelled in the query");
  const text = await response.text();
  assert.ok(text.length > 60_000, "the whole long body came through");
  assert.ok(!text.includes(TOKEN) && !text.includes(encodeURIComponent(TOKEN)), "no token in the body");
  assert.ok(text.includes(REDACTED));
  for (const [name, value] of response.headers) assert.ok(!value.includes(encodeURIComponent(TOKEN)), name);
  assert.equal(response.headers.get("content-length"), null);
});

Deno.test("proxy: the redacting stream does not buffer the body: a slow reader pulls only a little ahead", async () => {
  const { seen, call } = echoing("query", { chunks: 5000 });
  const response = await call("X/MapServer?f=json");
  const reader = response.body!.getReader();
  for (let i = 0; i < 5; i++) await reader.read();
  assert.ok(seen.pulls < 40, `pulled ${seen.pulls} upstream chunks for 5 reads`);
  await reader.cancel();
});

Deno.test("proxy: an API key profile sends its key only in the header, even from a tokenIn query entry", async () => {
  const { seen, call } = echoing("query", { headerOnly: true });
  const response = await call("X/MapServer?f=json", ["basemap"]);
  await response.body?.cancel();
  assert.ok(!seen.urls[0].includes("token="), "no token in the URL");
  assert.equal(seen.headers[0].get("x-esri-authorization"), `Bearer ${TOKEN}`);
});
