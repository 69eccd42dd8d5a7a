/**
 * Path segments as an upstream sees them: percent-decoded, lower-cased, cut at a `;` path parameter.
 *
 * @module
 */

const _decoder = new TextDecoder();

/** Decodes valid `%XX` escapes (others stay literal) as UTF-8, never throwing. */
export function _lenientPercentDecode(text: string): string {
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      bytes.push(...new TextEncoder().encode(text[i]));
    }
  }
  return _decoder.decode(new Uint8Array(bytes));
}

/** The segments of a normalized path, decoded and lower-cased for comparisons with fixed lists. */
export function _comparableSegments(pathname: string): string[] {
  const segments = pathname.split("/");
  for (let i = 0; i < segments.length; i++) {
    const segment = _lenientPercentDecode(segments[i]).toLowerCase();
    const parameter = segment.indexOf(";");
    segments[i] = (parameter < 0 ? segment : segment.slice(0, parameter)).trim();
  }
  return segments;
}
