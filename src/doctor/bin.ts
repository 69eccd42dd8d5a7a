#!/usr/bin/env node
/**
 * The executable of the package's `bin` (`npx arcgis-token-broker doctor`): runs {@link runCli} with the
 * process's arguments and environment and exits with its code. Node and Deno
 * (`deno run -A src/doctor/bin.ts doctor`).
 *
 * @module
 */
import process from "node:process";
import { readCliInput, runCli } from "./cli.ts";

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  read: readCliInput,
});
