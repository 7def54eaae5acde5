#!/usr/bin/env node
// Prints the README's config tables from the apps' env schemas: each variable, its default (parsed
// from an empty environment) and the one-line "why" comment above it in the source.
//   node tools/config-table.mjs   (after pnpm build)
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** `// why…` comment lines directly above `NAME: z…` in every *env*.ts / config.ts of a package. */
function comments(pkg) {
  const out = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/(^config|-env)\.ts$/.test(e.name)) {
        const lines = readFileSync(p, "utf8").split("\n");
        lines.forEach((line, i) => {
          const m = /^\s+([A-Z][A-Z0-9_]+):\s*z/.exec(line);
          if (!m) return;
          const why = [];
          for (let j = i - 1; j >= 0 && /^\s*\/\/ /.test(lines[j]); j--) why.unshift(lines[j].replace(/^\s*\/\/ /, ""));
          out.set(m[1], why.join(" "));
        });
      }
    }
  };
  walk(join(root, "packages", pkg, "src"));
  return out;
}

async function table(pkg, modulePath, exportName) {
  const schema = (await import(join(root, "packages", pkg, "dist", modulePath)))[exportName];
  const defaults = schema.parse({});
  const why = comments(pkg);
  const rows = Object.keys(schema.shape).map((key) => {
    const d = defaults[key] === undefined ? "—" : `\`${String(defaults[key])}\``;
    return `| \`${key}\` | ${d} | ${why.get(key) ?? ""} |`;
  });
  return ["| variable | default | what it is for |", "|---|---|---|", ...rows].join("\n");
}

console.log("### Gateway\n");
console.log(await table("gateway", "config.js", "GatewayEnv"));
console.log("\n### Node agent\n");
console.log(await table("node-agent", "config.js", "AgentEnv"));
