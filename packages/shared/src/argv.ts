/**
 * Splits a config string such as `-ngl 99 --chat-template "chatml v2"` into argv elements the way a
 * POSIX shell splits words — whitespace separates, '…' is literal, "…" and \ escape — but with no
 * expansion of any kind ($VAR, globs, ~, backticks stay literal): the result goes to spawn() as an
 * array, never through a shell.
 */
export function splitArgs(input: string): string[] {
  const out: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < input.length && '"\\$`'.includes(input[i + 1]!)) word += input[++i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 < input.length) word += input[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in engine arguments: ${input}`);
  if (inWord) out.push(word);
  return out;
}
