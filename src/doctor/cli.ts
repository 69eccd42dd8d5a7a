/**
 * The `arcgis-token-broker` command (the package's `bin`): `doctor` checks a broker config against the IdP and
 * ArcGIS and prints a report with a fix per finding; it exits 0 when nothing failed, 1 otherwise (2 on a usage
 * error).
 *
 *     npx arcgis-token-broker doctor [--config broker.config.json] [--token-file token.txt | --token-file -]
 *
 * The config comes from `--config` (a file) or `BROKER_CONFIG` (JSON text); the secrets it names come from the
 * environment, as in production. The sample token comes from a file (`-`: standard input) or
 * `BROKER_DOCTOR_TOKEN`, never from the command line, where it would land in the shell history. Runs under Node
 * (web APIs and `node:` built-ins only) and Deno; `bin.ts` is the executable.
 *
 * @module
 */
import process from "node:process";
import { readFile } from "node:fs/promises";
import { formatDoctorReport, runDoctor } from "./doctor.ts";

const USAGE = "Usage: arcgis-token-broker doctor [--config FILE] [--token-file FILE|-]\n" +
  "  --config FILE      the broker config as JSON (default: the BROKER_CONFIG environment variable)\n" +
  "  --token-file FILE  a sample bearer token to explain check by check (-: standard input;\n" +
  "                     default: the BROKER_DOCTOR_TOKEN environment variable)\n" +
  "The secrets the config names are read from the environment.\n";

/** What the command writes, and where. */
export interface CliIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** Reads a file (`-`: standard input) as text. */
  read(path: string): Promise<string>;
  /** The fetch used for every probe. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * Runs the command line `args` (without the program name) in `env`.
 *
 * @param args The arguments, e.g. `["doctor", "--config", "broker.config.json"]`.
 * @param env The environment (secrets, `BROKER_CONFIG`, `BROKER_DOCTOR_TOKEN`).
 * @param io Output streams and file reading.
 * @returns The exit code: 0 when nothing failed, 1 when a check failed, 2 on a usage error.
 */
export async function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
): Promise<number> {
  const [command, ...rest] = args;
  if (command !== "doctor") {
    io.err(command === undefined || command === "--help" ? USAGE : `Unknown command "${command}"\n${USAGE}`);
    return command === "--help" ? 0 : 2;
  }
  let configPath: string | undefined;
  let tokenPath: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const value = rest[i + 1];
    if ((rest[i] === "--config" || rest[i] === "--token-file") && value !== undefined) {
      if (rest[i] === "--config") configPath = value;
      else tokenPath = value;
      i++;
    } else {
      io.err(`Unknown argument "${rest[i]}"\n${USAGE}`);
      return 2;
    }
  }
  let configText: string;
  try {
    configText = configPath !== undefined ? await io.read(configPath) : env.BROKER_CONFIG ?? "";
  } catch {
    io.err(`Cannot read the config file "${configPath}"\n`);
    return 2;
  }
  if (configText.trim() === "") {
    io.err(`No config: pass --config FILE or set BROKER_CONFIG\n${USAGE}`);
    return 2;
  }
  let token: string | undefined = env.BROKER_DOCTOR_TOKEN;
  if (tokenPath !== undefined) {
    try {
      token = (await io.read(tokenPath)).trim();
    } catch {
      io.err(`Cannot read the token file "${tokenPath}"\n`);
      return 2;
    }
  }
  const report = await runDoctor(configText, {
    env,
    ...(token === undefined || token === "" ? {} : { token }),
    ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
  });
  io.out(formatDoctorReport(report));
  return report.ok ? 0 : 1;
}

/**
 * Reads a file, or standard input for `-`, as text (Node and Deno).
 *
 * @param path The file path, or `-`.
 * @returns Its text.
 */
export async function readCliInput(path: string): Promise<string> {
  if (path !== "-") return await readFile(path, "utf8");
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of process.stdin) text += decoder.decode(chunk as Uint8Array, { stream: true });
  return text + decoder.decode();
}
