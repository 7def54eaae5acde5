// Writes one benchmark's generated block into BENCHMARKS.md: `## <title>`, its text, and its closing
// ``` commands ``` block. Only that block is replaced, so the other benchmarks' sections and any
// prose written by hand after the block (the reading of the figures) stay. BENCH_WRITE=0: print only.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function writeBenchSection(root, title, { intro, lines, commands }) {
  const section = [`## ${title}`, "", ...intro, "", ...lines, "", "```", ...commands, "```", ""].join("\n");
  const benchFile = join(root, "BENCHMARKS.md");
  if (process.env.BENCH_WRITE === "0") {
    console.log("\nBENCH_WRITE=0: BENCHMARKS.md left alone");
    return;
  }
  const current = existsSync(benchFile) ? await readFile(benchFile, "utf8") : "# Benchmarks\n\n";
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`## ${escaped}\\n[\\s\\S]*?\`\`\`\\n[\\s\\S]*?\`\`\`\\n`);
  const next = re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}`;
  await writeFile(benchFile, next.endsWith("\n") ? next : `${next}\n`);
  console.log(`\nwrote the "${title}" section of ${benchFile}`);
}
