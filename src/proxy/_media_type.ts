/**
 * A small `Content-Type` parser: the lower-cased essence and the parameters (names lower-cased, quoted values
 * unquoted).
 *
 * @module
 */

/** A parsed media type. */
export interface _MediaType {
  /** `type/subtype`, lower case. */
  essence: string;
  /** Parameters by lower-cased name. */
  params: Map<string, string>;
}

/** Parses a `Content-Type` value; `undefined` when absent or without a `type/subtype`. */
export function _parseMediaType(value: string | null): _MediaType | undefined {
  if (value === null) return undefined;
  const [head, ...rest] = value.split(";");
  const essence = head.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(essence)) return undefined;
  const params = new Map<string, string>();
  const pattern = /\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)/gy;
  const text = rest.join(";");
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null && match[0] !== "") {
    const raw = match[2].trim();
    const key = match[1].toLowerCase();
    if (!params.has(key)) {
      params.set(key, raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw);
    }
  }
  return { essence, params };
}
