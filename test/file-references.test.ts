// The project stands on its own: every file a comment, a test or a document names is in this
// repository, and every link in the docs lands on a file (and heading) that exists.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKIP_DIRS = new Set(["node_modules", "dist", ".git", ".data", "coverage"]);
const SOURCE = new Set([".ts", ".mts", ".mjs", ".js", ".sh"]);

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

const files = walk(root);
const basenames = new Set(files.map((f) => basename(f)));
const paths = files.map((f) => relative(root, f).split(sep).join("/"));
const docs = files.filter((f) => extname(f) === ".md");
const sources = files.filter((f) => SOURCE.has(extname(f)) || basename(f) === "run" || basename(f) === "Dockerfile");

/** The comment text of a source file: `//` and `#` lines, and block comments. */
function comments(text: string): string {
  const out: string[] = [];
  for (const m of text.matchAll(/\/\*[\s\S]*?\*\//g)) out.push(m[0]);
  for (const m of text.matchAll(/(?:^|\s)(?:\/\/|#)(?!!)(.*)$/gm)) out.push(m[1]!);
  return out.join("\n");
}

// A file named in prose: a path or a name with one of the repository's own extensions.
const REFERENCE = /(?<![\w@/.-])((?:\.{1,2}\/)*(?:[\w.-]+\/)*[\w-]+(?:\.[\w-]+)*\.(?:md|ts|mts|mjs|sh|ya?ml))(?![\w/])/g;

/**
 * Whether `ref`, named in `from`, is a file of this repository (or one the build makes from one):
 * relative to `from`, or the tail of a repository path (`api/listener.ts` in a doc about the agent).
 */
function resolves(ref: string, from: string): boolean {
  if (!ref.includes("/")) return basenames.has(ref);
  if (ref.startsWith("../") || ref.startsWith("./")) {
    const path = resolve(dirname(from), ref);
    return path.startsWith(root + sep) && existsSync(path);
  }
  // Built files (dist/…) are named by their source.
  const tail = ref.replace(/(^|\/)dist\//, "$1src/").replace(/\.js$/, ".ts");
  return paths.some((p) => p === ref || p === tail || p.endsWith(`/${ref}`) || p.endsWith(`/${tail}`));
}

function unresolved(text: string, from: string): string[] {
  return [...text.matchAll(REFERENCE)].map((m) => m[1]!).filter((ref) => !/^https?:/.test(ref) && !resolves(ref, from));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");
}

function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchor(m[1]!.replace(/`/g, ""))));
}

describe("file references", () => {
  it("found some files to check (the walk works)", () => {
    expect(docs.map((d) => relative(root, d))).toEqual(expect.arrayContaining(["README.md", join("docs", "architecture.md")]));
    expect(sources.length).toBeGreaterThan(100);
  });

  it("every file a code comment names is in the repository", () => {
    const missing = sources.flatMap((file) => unresolved(comments(readFileSync(file, "utf8")), file).map((ref) => `${relative(root, file)}: ${ref}`));
    expect(missing).toEqual([]);
  });

  it("every file a document names is in the repository", () => {
    const missing = docs.flatMap((file) => unresolved(readFileSync(file, "utf8"), file).map((ref) => `${relative(root, file)}: ${ref}`));
    expect(missing).toEqual([]);
  });

  it("every relative link in the docs lands on a file, and on a heading of it when it names one", () => {
    const broken: string[] = [];
    for (const file of docs) {
      for (const [, target] of readFileSync(file, "utf8").matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, hash] = target!.split("#");
        const resolved = path ? resolve(dirname(file), path) : file;
        if (!resolved.startsWith(root) || !existsSync(resolved)) {
          broken.push(`${relative(root, file)}: ${target} (no such file)`);
          continue;
        }
        if (hash && statSync(resolved).isFile() && !anchors(readFileSync(resolved, "utf8")).has(hash)) {
          broken.push(`${relative(root, file)}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("catches a reference to a file that is not here, and one that leaves the repository", () => {
    const from = join(root, "packages", "gateway", "src", "server.ts");
    expect(unresolved("see NOTES.md and ../../../../elsewhere/GUIDE.md", from)).toEqual(["NOTES.md", "../../../../elsewhere/GUIDE.md"]);
    expect(unresolved("see docs/engines.md and proxy/data-plane.ts, built as dist/server.js", from)).toEqual([]);
  });
});
