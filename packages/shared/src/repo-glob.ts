/**
 * `files` patterns of a model: literal paths or globs over repo-relative paths.
 *   `*`   any characters except `/`
 *   `**`  any characters including `/`; as a whole segment before a `/` it also matches no folder
 *   `?`   one character except `/`
 * Everything else is literal, so a pattern can never become a regex of its own (no ReDoS, no
 * character classes): "safe glob".
 */

export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        const wholeSegment = (i === 0 || pattern[i - 1] === "/") && pattern[i + 2] === "/";
        if (wholeSegment) {
          re += "(?:.*/)?"; // a `**` segment matches zero or more folders
          i += 2;
        } else {
          re += ".*";
          i += 1;
        }
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

export interface Selection<T> {
  readonly selected: T[];
  /** Patterns that matched no file. */
  readonly unmatched: string[];
}

/**
 * The files `patterns` pick, in listing order. Empty `patterns` means every file: a runtime's
 * default pick is made before, by the `defaultFiles` a pull is given (@omnigate/shared/default-files).
 */
export function selectFiles<T extends { readonly path: string }>(files: readonly T[], patterns: readonly string[]): Selection<T> {
  if (patterns.length === 0) return { selected: [...files], unmatched: [] };
  const matchers = patterns.map((p) => ({ p, re: isGlob(p) ? globToRegExp(p) : undefined, hit: false }));
  const selected: T[] = [];
  for (const f of files) {
    let take = false;
    for (const m of matchers) {
      if (m.re ? m.re.test(f.path) : m.p === f.path) {
        m.hit = true;
        take = true;
      }
    }
    if (take) selected.push(f);
  }
  return { selected, unmatched: matchers.filter((m) => !m.hit).map((m) => m.p) };
}

/** Whether a path is picked by `patterns` (empty = everything). */
export function matchesAny(path: string, patterns: readonly string[]): boolean {
  return selectFiles([{ path }], patterns).selected.length > 0;
}
