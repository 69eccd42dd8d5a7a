/**
 * Rules: the ordered list in `config.rules` that turns a verified identity into the credential profiles it may
 * use. The first rule that matches wins; no match gives an empty list (the Hono layer answers 403
 * `insufficient_scope`).
 *
 * A rule may name an `issuer` (exact match) and one claim test:
 * - `equals`: the claim is exactly this string, number or boolean (no type coercion);
 * - `includes`: an array claim contains the value, or a string claim holds it as one of its space-separated
 *   words (like `scope`);
 * - `matches`: a regular expression (unicode mode, JavaScript `RegExp.test` semantics, so anchor it with `^…$`
 *   to match whole values) matches the string claim, or one string element of an array claim;
 * - `exists`: the claim is present and not null (`true`), or absent or null (`false`).
 *
 * A claim name is looked up as an own property first; a name with dots that is not a claim itself walks nested
 * objects (`realm_access.roles`). Inherited properties (`__proto__`, `constructor`) are never claims.
 *
 * @module
 */
import type { BrokerConfig, RuleConfig } from "../config/schema.ts";
import type { Identity, Policy } from "../types.ts";

type _ClaimTest = (value: unknown) => boolean;

interface _CompiledRule {
  issuer: string | undefined;
  claim: string | undefined;
  test: _ClaimTest;
  profiles: readonly string[];
}

const _ABSENT = Symbol("absent");

/** The value of `name` in `claims`, or {@link _ABSENT}. */
function _claimValue(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (!name.includes(".")) return _ABSENT;
  let current: unknown = claims;
  for (const part of name.split(".")) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return _ABSENT;
    if (!Object.hasOwn(current, part)) return _ABSENT;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function _isPresent(value: unknown): boolean {
  return value !== _ABSENT && value !== null && value !== undefined;
}

function _compileTest(rule: RuleConfig): _ClaimTest {
  if (rule.equals !== undefined) {
    const expected = rule.equals;
    return (value) => value === expected;
  }
  if (rule.includes !== undefined) {
    const expected = rule.includes;
    return (value) => {
      if (Array.isArray(value)) return value.some((item) => item === expected);
      if (typeof value === "string" && typeof expected === "string") {
        return value.split(/\s+/).some((word) => word !== "" && word === expected);
      }
      return false;
    };
  }
  if (rule.matches !== undefined) {
    const pattern = new RegExp(rule.matches, "u");
    const test = (s: string): boolean => pattern.test(s);
    return (value) => {
      if (typeof value === "string") return test(value);
      if (Array.isArray(value)) return value.some((item) => typeof item === "string" && test(item));
      return false;
    };
  }
  if (rule.exists !== undefined) {
    const wanted = rule.exists;
    return (value) => _isPresent(value) === wanted;
  }
  return () => true;
}

function _compile(rule: RuleConfig): _CompiledRule {
  const profiles = Object.freeze(typeof rule.profile === "string" ? [rule.profile] : [...rule.profile]);
  return { issuer: rule.issuer, claim: rule.claim, test: _compileTest(rule), profiles };
}

const _NONE: readonly string[] = Object.freeze([]);

class RulePolicy implements Policy {
  readonly #rules: readonly _CompiledRule[];

  constructor(rules: readonly _CompiledRule[]) {
    this.#rules = rules;
  }

  profilesFor(identity: Identity): readonly string[] {
    for (const rule of this.#rules) {
      if (rule.issuer !== undefined && rule.issuer !== (identity.configuredIssuer ?? identity.issuer)) {
        continue;
      }
      if (rule.claim !== undefined && !rule.test(_claimValue(identity.claims, rule.claim))) continue;
      return rule.profiles;
    }
    return _NONE;
  }
}

/**
 * Creates the {@link Policy} of `config.rules` (already validated by the config schema: known profiles, one test
 * per claim, valid patterns). Patterns are compiled once, here.
 */
export function createPolicy(config: Pick<BrokerConfig, "rules">): Policy {
  return new RulePolicy(Object.freeze(config.rules.map(_compile)));
}
