/**
 * Configuration: schema, parsing, environment loading.
 *
 * @module
 */
export * from "./schema.ts";
export * from "./load.ts";
export * from "./constants.ts";
