/**
 * Debian's `glewlwyd` (an OpenID provider nobody here wrote) on `127.0.0.1`, for tests: a config file and a SQLite
 * database written into a temporary directory (the schema and seed from the package's own
 * `init.sqlite3.sql`), then set up through its admin API as an operator would (a scope, a user, a public client,
 * the OpenID Connect plugin with an RS256 key and RFC 8707 resource indicators), and a user signed in through the
 * authorization code flow with PKCE and a `resource`.
 *
 * glewlwyd 2.7 notes: the authorize URL needs `g_continue` once the user has granted the scopes; the grant API
 * takes the scopes space-separated.
 */
import * as jose from "jose";

/** Where Debian installs the binary and the SQL seed. */
export const GLEWLWYD_BINARY = "/usr/bin/glewlwyd";
const _SEED = "/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz";
const _ADMIN = { username: "admin", password: "password" };
const _PLUGIN = "oidc";

/** True when glewlwyd and its seed are installed (scripts/ensure_glewlwyd.sh installs them). */
export function glewlwydInstalled(): boolean {
  try {
    return Deno.statSync(GLEWLWYD_BINARY).isFile && Deno.statSync(_SEED).isFile;
  } catch {
    return false;
  }
}

/** A running glewlwyd. */
export interface Glewlwyd extends AsyncDisposable {
  /** The issuer of its OpenID Connect plugin. */
  readonly issuer: string;
  /** The RFC 8707 resource (and so `aud`) access tokens are issued for. */
  readonly resource: string;
  /** The scope the resource belongs to. */
  readonly scope: string;
  /** The public SPA client id. */
  readonly clientId: string;
  /** Signs `username` in and runs the code flow with PKCE and the resource; returns the token response. */
  login(username: string, options?: { resource?: string }): Promise<Record<string, unknown>>;
  /** Stops the server and removes the temporary directory. */
  close(): Promise<void>;
}

/** Options for {@link startGlewlwyd}. */
export interface StartGlewlwydOptions {
  /** Users to create, each with the given password. @default [{ username: "alice", password: random }] */
  users?: ReadonlyArray<{ username: string; password: string; name?: string }>;
}

/** The part of `node:sqlite` used here (the installed `@types/node` predates it, so it is imported by name). */
interface _Sqlite {
  DatabaseSync: new (path: string) => { exec(sql: string): void; close(): void };
}

function _freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function _seedSql(): Promise<string> {
  const file = await Deno.open(_SEED);
  const text = await new Response(file.readable.pipeThrough(new DecompressionStream("gzip"))).text();
  return text;
}

class _Session {
  readonly #cookies = new Map<string, string>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size > 0) {
      headers.set("cookie", [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      if (at > 0) this.#cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    return response;
  }

  async json(url: string, method: string, body?: unknown): Promise<Response> {
    return await this.fetch(url, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
  }
}

async function _expectOk(response: Response, what: string): Promise<void> {
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`glewlwyd: ${what} answered ${response.status}: ${text.slice(0, 300)}`);
  }
}

/** Starts glewlwyd on a free loopback port with a fresh database; close it with `close()` or `await using`. */
export async function startGlewlwyd(options: StartGlewlwydOptions = {}): Promise<Glewlwyd> {
  const dir = await Deno.makeTempDir({ prefix: "glewlwyd-" });
  const port = _freePort();
  const origin = `http://127.0.0.1:${port}`;
  const api = `${origin}/api`;
  const issuer = `${api}/${_PLUGIN}`;
  const database = `${dir}/glewlwyd.db`;
  const sqliteModule = "node:sqlite";
  const { DatabaseSync } = await import(sqliteModule) as _Sqlite;
  const db = new DatabaseSync(database);
  db.exec(await _seedSql());
  db.close();
  await Deno.writeTextFile(
    `${dir}/glewlwyd.conf`,
    [
      `port=${port}`,
      `bind_address="127.0.0.1"`,
      `external_url="${origin}"`,
      `login_url="login.html"`,
      `api_prefix="api"`,
      `allow_origin="*"`,
      `log_mode="console"`,
      `log_level="INFO"`,
      `cookie_secure=0`,
      `session_expiration=3600`,
      `session_key="GLEWLWYD2_SESSION_ID"`,
      `admin_scope="g_admin"`,
      `profile_scope="g_profile"`,
      `user_module_path="/usr/lib/glewlwyd/user"`,
      `client_module_path="/usr/lib/glewlwyd/client"`,
      `user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"`,
      `plugin_module_path="/usr/lib/glewlwyd/plugin"`,
      `use_secure_connection=false`,
      // glewlwyd 2.7 refuses to start ("secure connection is active but certificate is not valid") unless these
      // are set, even with use_secure_connection=false; they are never read.
      `secure_connection_key_file="${dir}/unused.key"`,
      `secure_connection_pem_file="${dir}/unused.pem"`,
      `hash_algorithm="SHA512"`,
      `database = { type = "sqlite3"; path = "${database}"; };`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(GLEWLWYD_BINARY, {
    args: ["--config-file", `${dir}/glewlwyd.conf`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // It logs to the console; the line saying it started is the signal (no polling). Everything after is drained.
  const output: string[] = [];
  const started = (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let up = false;
    while (!up) {
      const { done, value } = await lines.read();
      if (done) break;
      buffer += value;
      up = /Glewlwyd started on port/.test(buffer);
      output.push(value);
    }
    void (async () => {
      while (!(await lines.read()).done);
    })().catch(() => {});
    return up;
  })();
  void child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void output.push(new TextDecoder().decode(chunk)) }),
  )
    .catch(() => {});
  const close = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    if (!(await started)) throw new Error("glewlwyd exited before it started");

    const scope = "arcgis";
    const resource = "https://arcgis-broker.test/api";
    const clientId = "spa";
    const redirectUri = "http://127.0.0.1:9/callback";
    const users = options.users ?? [{ username: "alice", password: crypto.randomUUID() }];

    const admin = new _Session();
    await _expectOk(await admin.json(`${api}/auth/`, "POST", _ADMIN), "admin login");
    await _expectOk(
      await admin.json(`${api}/scope/`, "POST", {
        name: scope,
        display_name: "ArcGIS",
        description: "ArcGIS through the token broker",
        password_required: false,
        scheme: {},
      }),
      "scope creation",
    );
    for (const user of users) {
      await _expectOk(
        await admin.json(`${api}/user/`, "POST", {
          username: user.username,
          name: user.name ?? user.username,
          email: `${user.username}@example.com`,
          password: user.password,
          enabled: true,
          scope: ["openid", scope, "g_profile"],
        }),
        "user creation",
      );
    }
    await _expectOk(
      await admin.json(`${api}/client/`, "POST", {
        client_id: clientId,
        name: "ArcGIS app",
        confidential: false,
        enabled: true,
        redirect_uri: [redirectUri],
        authorization_type: ["code", "refresh_token"],
        resource: [resource],
      }),
      "client creation",
    );
    const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true, modulusLength: 2048 });
    const kid = crypto.randomUUID();
    const privateJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
    await _expectOk(
      await admin.json(`${api}/mod/plugin/`, "POST", {
        module: "oidc",
        name: _PLUGIN,
        display_name: "OpenID Connect",
        parameters: {
          iss: issuer,
          "jwks-private": JSON.stringify({ keys: [privateJwk] }),
          "default-kid": kid,
          "jwks-show": true,
          "access-token-duration": 3600,
          "refresh-token-duration": 86400,
          "code-duration": 600,
          "refresh-token-rolling": false,
          "allow-non-oidc": false,
          "auth-type-code-enabled": true,
          "auth-type-token-enabled": false,
          "auth-type-id-token-enabled": true,
          "auth-type-none-enabled": false,
          "auth-type-password-enabled": false,
          "auth-type-client-enabled": false,
          "auth-type-device-enabled": false,
          "auth-type-refresh-enabled": true,
          "subject-type": "public",
          "pkce-allowed": true,
          "pkce-method-plain-allowed": false,
          "resource-allowed": true,
          "resource-scope": { [scope]: [resource] },
          "resource-client-property": "resource",
          "resource-scope-and-client-property": false,
          "introspection-revocation-allowed": false,
        },
      }),
      "OpenID Connect plugin creation",
    );

    const login = async (username: string, loginOptions: { resource?: string } = {}) => {
      const user = users.find((u) => u.username === username);
      if (user === undefined) throw new Error(`Unknown glewlwyd test user "${username}"`);
      const session = new _Session();
      await _expectOk(
        await session.json(`${api}/auth/`, "POST", { username, password: user.password }),
        "user login",
      );
      await _expectOk(
        await session.json(`${api}/auth/grant/${clientId}`, "PUT", { scope: `openid ${scope}` }),
        "grant",
      );
      const verifier = jose.base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
      const challenge = jose.base64url.encode(
        new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
      );
      const state = crypto.randomUUID();
      const target = loginOptions.resource ?? resource;
      const authorize = new URL(`${issuer}/auth`);
      for (
        const [name, value] of Object.entries({
          response_type: "code",
          client_id: clientId,
          redirect_uri: redirectUri,
          scope: `openid ${scope}`,
          state,
          nonce: crypto.randomUUID(),
          code_challenge: challenge,
          code_challenge_method: "S256",
          resource: target,
        })
      ) authorize.searchParams.set(name, value);
      const answer = await session.fetch(`${authorize.href}&g_continue`);
      await answer.body?.cancel();
      const location = answer.headers.get("location");
      if (answer.status !== 302 || location === null) {
        throw new Error(`glewlwyd: authorize answered ${answer.status}`);
      }
      const back = new URL(location);
      const code = back.searchParams.get("code");
      if (code === null || back.searchParams.get("state") !== state) {
        throw new Error(
          `glewlwyd: authorize gave no code (${back.searchParams.get("error") ?? location.slice(0, 120)})`,
        );
      }
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          client_id: clientId,
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
          resource: target,
        }),
      });
      const body = await response.json() as Record<string, unknown>;
      if (response.status !== 200) {
        throw new Error(`glewlwyd: token answered ${response.status} ${JSON.stringify(body)}`);
      }
      return body;
    };

    return {
      issuer,
      resource,
      scope,
      clientId,
      login,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await close();
    const log = output.join("").slice(-2000);
    throw new Error(`${(error as Error).message}\n--- glewlwyd output ---\n${log}`, { cause: error });
  }
}
