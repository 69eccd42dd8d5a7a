/**
 * The bare pass-through Worker of the workerd benchmark (`bench/workerd_bench.ts`): `GET /proxy?<url>` → fetch,
 * stream back, nothing else; `GET /json` answers a small JSON itself (the baseline of a warm `/credentials`, which
 * makes no subrequest).
 *
 * @module
 */

const JSON_BODY = JSON.stringify({
  credentials: [
    {
      server: "http://127.0.0.1/portal/sharing/rest",
      token: "bench-app-token-0123456789",
      expires: 0,
      ssl: false,
    },
    {
      server: "http://127.0.0.1/server/rest/services",
      token: "bench-server-token-0123456789",
      expires: 0,
      ssl: false,
    },
  ],
});

export default {
  async fetch(request: Request): Promise<Response> {
    const url = request.url;
    const query = url.indexOf("?");
    if (url.slice(0, query === -1 ? undefined : query).endsWith("/json")) {
      return new Response(JSON_BODY, { headers: { "content-type": "application/json" } });
    }
    if (query === -1) return new Response("not found", { status: 404 });
    const upstream = await fetch(url.slice(query + 1), {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  },
};
