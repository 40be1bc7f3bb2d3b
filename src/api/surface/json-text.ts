const [QUOTE, BACKSLASH, LOWER_U] = [0x22, 0x5c, 0x75];
const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT] = [0x5b, 0x5d, 0x7b, 0x7d];
/** The UTF-16 unit of the `\uXXXX` escape at `at` (NaN when malformed, which the parser refuses). */
const escapedUnit = (text: string, at: number) =>
  text.charCodeAt(at + 1) === LOWER_U ? Number.parseInt(text.slice(at + 2, at + 6), 16) : Number.NaN;
const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;
const LONE_SURROGATE = 'has a \\u escape of a lone surrogate (D800-DFFF), which is not a character';

/**
 * What makes JSON text unfit before it is parsed, worded to follow "body": nesting deeper than
 * `maxDepth`, or an escaped lone UTF-16 surrogate, which is no character (Postgres refuses it in
 * JSON). One pass that follows only brackets, strings and escapes; other malformed text is left to
 * the parser.
 */
export function jsonTextProblem(text: string, maxDepth: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === QUOTE) inString = false;
      else if (c === BACKSLASH) {
        const unit = escapedUnit(text, i);
        if (isLowSurrogate(unit)) return LONE_SURROGATE;
        if (isHighSurrogate(unit)) {
          if (!isLowSurrogate(escapedUnit(text, i + 6))) return LONE_SURROGATE;
          i += 6;
        }
        i += Number.isNaN(unit) ? 1 : 5;
      }
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return `nests deeper than ${maxDepth} levels`;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return undefined;
}
