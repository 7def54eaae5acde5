// Writes the benchmark's results into BENCHMARKS.md, section "## Data plane (issues 5 and 10)"
// (replacing that section only: other sections belong to other benchmarks).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { LATENCY_RATIO_GOAL, PATHS, THROUGHPUT_RATIO_GOAL } from "./paths.mjs";

const TITLE = "## Data plane (issues 5 and 10)";
/** The section's earlier title, replaced too. */
const OLD_TITLE = "## Data plane (issue 5)";

const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
const mib = (b) => (b / 1024 / 1024).toFixed(1);
const us = (x) => `${Number.isFinite(x) ? x.toFixed(0) : "?"} µs`;
/** A difference with its sign: "+0.16", "-7.25". */
const signed = (x) => `${x >= 0 ? "+" : ""}${ms(x)}`;
const signedUs = (x) => `${x >= 0 ? "+" : ""}${us(x)}`;

function verdict(ok) {
  return ok ? "meets the goal" : "MISSES the goal";
}

/** The hot path's table: each hop path against its bare-hop floor (paths.mjs, hotPathRatios). */
function hotPathTable(rows) {
  const line = (h) =>
    `| ${h.name}: ${PATHS[h.name].what} | ${h.floor} | +${ms(h.added)} ms | +${ms(h.floorAdded)} ms | ${h.latencyRatio.toFixed(2)}× ${h.latencyOk ? "meets" : "MISSES"} | ${h.rps.toFixed(0)} req/s | ${h.floorRps.toFixed(0)} req/s | ${h.rpsRatio.toFixed(2)}×${h.rpsGoal === undefined ? "" : h.rpsRatio >= h.rpsGoal ? " meets" : " MISSES"} | ${us(h.cpu)} | ${us(h.floorCpu)} |`;
  return `| path | floor | added p50 | floor's added p50 | ratio (goal ≤ ${LATENCY_RATIO_GOAL}×) | best throughput | floor's | ratio (goal ≥ ${THROUGHPUT_RATIO_GOAL}× for the gateway path) | hops' CPU per request | floor's |
|---|---|---|---|---|---|---|---|---|---|
${rows.map(line).join("\n")}`;
}

export function writeSection(file, r, { quick: QUICK, command, chunks: CHUNKS, intervalMs: INTERVAL_MS, lateMs: LATE_MS, slots: SLOTS }) {
  const date = new Date().toISOString().slice(0, 10);
  const L = r.latency;
  const T = r.throughput;
  const S = r.stream;
  const G = "gateway-only";
  const M = "gateway-mtls";
  const P = "gateway-pg";
  const Pr = r.propagation;
  const B = "bare-2";
  const cpu = (t, parts) => parts.map((k) => `${k} ${us(t.cpuPerRequestUs[k])}`).join(" + ");
  const section = `${TITLE}

\`${command}\` (packages/gateway/bench/run.mjs; load generator bench/load.mjs in its own process, undici
keep-alive pool), ${date}, load average ${r.loadAverage.before} before and ${r.loadAverage.after} after (1, 5, 15 min; ${cpus().length} cores
shared by every process of the bench and whatever else runs).

### The hot path against bare Node relay hops (issue 10)

Each hop path's added p50 (over direct, concurrency 1) and best throughput against its floor's, the
bare-hop path with as many Node hops, in this same run; auth, readiness, scheduling, validation and
metrics all on. "hops' CPU per request" is what the path's own processes (not the engine) spend.

${hotPathTable(r.hotPath)}

### All figures

Ten paths run side by side in one run, same load generator, same stand-in knobs:

- **direct**: client → stand-in llama-server (test fixture)
- **agent alone**: client → agent → its stand-in (with the node secret the bench's gateway host hands over IPC)
- **gateway alone**: client → gateway → stand-in (a node the bench registers through the node protocol
  whose agent_url is the stand-in: the gateway's own hop, no agent behind it)
- **gateway path**: client → gateway → agent → stand-in, four processes — the issue's figure
- **gateway path, mutual TLS**: the same through a second gateway whose agent serves HTTPS
  (\`OMNIGATE_AGENT_TLS=on\`): the gateway → agent hop is TLS 1.3 with client certificates from the
  cluster CA, over the gateway's keep-alive pool; the client → gateway hop stays plain, as above
- **one bare hop** (the gateway hop's floor): client → bench/bare-hop.mjs → stand-in
- **the agent's engine**, and **one bare hop in front of it** (the agent hop's floor): the agent hop
  is read against a bare hop in front of the same engine process it calls, its added time over
  that engine's own
- **two bare hops** (the floor of the path): client → bench/bare-hop.mjs → bare-hop.mjs → stand-in, as many
  processes as the gateway path, each hop the leanest Node proxy there is (node:http in, an undici
  keep-alive pool out; no auth, no parsing, no validation, no metrics). What any two Node hops add here.

Small non-streaming chat = \`max_tokens: 8\`; streams = ${CHUNKS} chunks ${INTERVAL_MS} ms apart; "late" = an
inter-chunk gap over ${LATE_MS} ms. Engine slots ${SLOTS} (nothing queues). Added = path − direct.

| figure | direct | agent alone | gateway alone | gateway path | two bare hops | added by the gateway path | added by two bare hops (floor) | added by the gateway alone | goal (gateway path) |
|---|---|---|---|---|---|---|---|---|---|
| latency p50, concurrency 1 (${L.n} req/path) | ${ms(L.direct.p50)} ms | ${ms(L.agent.p50)} ms | ${ms(L[G].p50)} ms | ${ms(L.gateway.p50)} ms | ${ms(L[B].p50)} ms | +${ms(L.added.p50)} ms | +${ms(L[B].p50 - L.direct.p50)} ms | +${ms(L[G].p50 - L.direct.p50)} ms | ≤ 1 ms: ${verdict(L.added.p50 <= 1)} |
| latency p99, concurrency 1 | ${ms(L.direct.p99)} ms | ${ms(L.agent.p99)} ms | ${ms(L[G].p99)} ms | ${ms(L.gateway.p99)} ms | ${ms(L[B].p99)} ms | +${ms(L.added.p99)} ms | +${ms(L[B].p99 - L.direct.p99)} ms | +${ms(L[G].p99 - L.direct.p99)} ms | ≤ 3 ms: ${verdict(L.added.p99 <= 3)} |
| highest throughput (best of ${QUICK ? "64" : "16/64/128"} conns) | ${T.direct.rps.toFixed(0)} req/s | ${T.agent.rps.toFixed(0)} req/s | ${T[G].rps.toFixed(0)} req/s | ${T.gateway.rps.toFixed(0)} req/s | ${T[B].rps.toFixed(0)} req/s | ×${(T.gateway.rps / T.direct.rps).toFixed(2)} | ×${(T[B].rps / T.direct.rps).toFixed(2)} | ×${(T[G].rps / T.direct.rps).toFixed(2)} | ≥ 3000 req/s: ${verdict(T.gateway.rps >= 3000)} (gateway alone: ${verdict(T[G].rps >= 3000)}) |
| CPU per request there | ${cpu(T.direct, ["engine"])} | ${cpu(T.agent, ["agent", "engine"])} | ${cpu(T[G], ["gateway", "engine"])} | ${cpu(T.gateway, ["gateway", "agent", "engine"])} | ${cpu(T[B], ["bare-2", "bare-1", "engine"])} | — | — | — | — |
| time to first token (1 stream at a time, warm; p50 of ${S.rounds}) | ${ms(S.direct.ttft)} ms | ${ms(S.agent.ttft)} ms | ${ms(S[G].ttft)} ms | ${ms(S.gateway.ttft)} ms | ${ms(S[B].ttft)} ms | +${ms(S.addedTtft)} ms | +${ms(S[B].ttft - S.direct.ttft)} ms | +${ms(S[G].ttft - S.direct.ttft)} ms | ≤ 1 ms: ${verdict(S.addedTtft <= 1)} |
| p99 inter-chunk gap (1 stream at a time) | ${ms(S.direct.gapP99)} ms | ${ms(S.agent.gapP99)} ms | ${ms(S[G].gapP99)} ms | ${ms(S.gateway.gapP99)} ms | ${ms(S[B].gapP99)} ms | +${ms(S.addedGapP99)} ms | +${ms(S[B].gapP99 - S.direct.gapP99)} ms | +${ms(S[G].gapP99 - S.direct.gapP99)} ms | — |
| most concurrent streams, no late/lost chunk | ${r.maxStreams.direct} | — | ${r.maxStreams[G]} | ${r.maxStreams.gateway} | — | ×${(r.maxStreams.gateway / Math.max(1, r.maxStreams.direct)).toFixed(2)} | — | ×${(r.maxStreams[G] / Math.max(1, r.maxStreams.direct)).toFixed(2)} | — |
| gateway RSS, 1,000 concurrent streams | — | — | — | idle ${mib(r.rss.idle)} MiB → peak ${mib(r.rss.peak)} MiB | — | ×${(r.rss.peak / r.rss.idle).toFixed(2)} of idle | — | — | ≤ 300 MiB: ${verdict(r.rss.peak <= 300 * 1024 * 1024)} |

Mutual TLS on the gateway → agent hop, beside the plain path in the same run:

| figure | gateway path | gateway path, mutual TLS | added by mutual TLS |
|---|---|---|---|
| latency p50, concurrency 1 | ${ms(L.gateway.p50)} ms | ${ms(L[M].p50)} ms | ${signed(L[M].p50 - L.gateway.p50)} ms |
| latency p99, concurrency 1 | ${ms(L.gateway.p99)} ms | ${ms(L[M].p99)} ms | ${signed(L[M].p99 - L.gateway.p99)} ms |
| highest throughput | ${T.gateway.rps.toFixed(0)} req/s | ${T[M].rps.toFixed(0)} req/s (${T[M].tlsConnections} TLS connections for ${T[M].requests} requests) | ×${(T[M].rps / T.gateway.rps).toFixed(2)} |
| CPU per request there | ${cpu(T.gateway, ["gateway", "agent", "engine"])} | ${cpu(T[M], ["gateway", "agent", "engine"])} | gateway ${signedUs(T[M].cpuPerRequestUs.gateway - T.gateway.cpuPerRequestUs.gateway)}, agent ${signedUs(T[M].cpuPerRequestUs.agent - T.gateway.cpuPerRequestUs.agent)} |
| time to first token (p50) | ${ms(S.gateway.ttft)} ms | ${ms(S[M].ttft)} ms | ${signed(S[M].ttft - S.gateway.ttft)} ms |
| a new connection to the agent (p50 of ${r.handshake.count}) | TCP connect ${ms(r.handshake.tcp)} ms | mutual-TLS handshake ${ms(r.handshake.tls)} ms | ${signed(r.handshake.tls - r.handshake.tcp)} ms, once per pooled connection |

The store on PostgreSQL (several gateways share it) instead of SQLite, beside it in the same run: a
third gateway on a PostgreSQL server the bench starts, with its own agent. Nothing of the store is
on a request's path (models, keys, nodes and readiness are in memory, kept current by
notifications), so the figures should be equal within noise:

| figure | gateway path, SQLite | gateway path, PostgreSQL | difference |
|---|---|---|---|
| latency p50, concurrency 1 | ${ms(L.gateway.p50)} ms | ${ms(L[P].p50)} ms | ${signed(L[P].p50 - L.gateway.p50)} ms |
| latency p99, concurrency 1 | ${ms(L.gateway.p99)} ms | ${ms(L[P].p99)} ms | ${signed(L[P].p99 - L.gateway.p99)} ms |
| highest throughput | ${T.gateway.rps.toFixed(0)} req/s | ${T[P].rps.toFixed(0)} req/s | ×${(T[P].rps / T.gateway.rps).toFixed(2)} |
| CPU per request there | ${cpu(T.gateway, ["gateway", "agent", "engine"])} | ${cpu(T[P], ["gateway", "agent", "engine"])} | gateway ${signedUs(T[P].cpuPerRequestUs.gateway - T.gateway.cpuPerRequestUs.gateway)} |
| time to first token (p50) | ${ms(S.gateway.ttft)} ms | ${ms(S[P].ttft)} ms | ${signed(S[P].ttft - S.gateway.ttft)} ms |

Readiness propagation between two gateways on that PostgreSQL: a simulated node registered through
gateway A reports a model ready in a heartbeat to A; timed from sending that heartbeat until gateway
B's readiness (what B routes on, and what its event stream reports) has the model ready there, ${Pr ? Pr.samples : "—"} times:
**p50 ${Pr ? ms(Pr.p50) : "—"} ms, p99 ${Pr ? ms(Pr.p99) : "—"} ms** (max ${Pr ? ms(Pr.max) : "—"} ms; goal p99 ≤ 100 ms: ${Pr ? verdict(Pr.p99 <= 100) : "not run"}). The path: A's
heartbeat handler → its node writer (changes of the same moment share a transaction) → one
transaction that updates the node's row and NOTIFYs → B's LISTEN connection → B's cache.

The handshake is paid once per connection of the gateway's keep-alive pool (it keeps no TLS
sessions to agents, so each new connection is a full handshake: a resumed one would skip the
deny-list check); per request TLS costs the record encryption on both ends of the hop.

Reading it:
- The gateway path's throughput is the agent's: alone the agent does ${T.agent.rps.toFixed(0)} req/s at
  ${us(T.agent.cpuPerRequestUs.agent)} CPU per request, the gateway alone ${T[G].rps.toFixed(0)} req/s at ${us(T[G].cpuPerRequestUs.gateway)}; with four processes on two
  cores the path cannot beat its slowest hop.
- Both the gateway and the agent serve the nine endpoints before Express (\`DataPlane.handle\` and the
  agent's listener); through Express each hop cost roughly 50–100 µs more CPU per request.
- The floor: two bare Node hops add +${ms(L[B].p50 - L.direct.p50)} ms at p50, +${ms(L[B].p99 - L.direct.p99)} ms at p99 and
  +${ms(S[B].ttft - S.direct.ttft)} ms to the first token, in this same run (one bare hop: +${ms(L["bare-1"].p50 - L.direct.p50)} / +${ms(L["bare-1"].p99 - L.direct.p99)} / +${ms(S["bare-1"].ttft - S.direct.ttft)} ms).
  Where the floor itself is over a goal, no two-process Node path meets that goal on this machine;
  what the gateway path adds over the floor (p50 +${ms(L.gateway.p50 - L[B].p50)} ms, p99 +${ms(L.gateway.p99 - L[B].p99)} ms, TTFT
  +${ms(S.gateway.ttft - S[B].ttft)} ms) is the hops' own work: auth, routing, validation, metrics.
- Time to first token per hop: agent +${ms(S.agent.ttft - S.direct.ttft)} ms, gateway +${ms(S.gateway.ttft - S.agent.ttft)} ms. With chunks
  ${INTERVAL_MS} ms apart every process sleeps between them, and the first token of the next stream
  pays each process's wake-up and its cold caches: the direct path alone takes ${ms(S.direct.ttft)} ms to its
  first token against ${ms(L.direct.p50)} ms for a whole non-streaming answer sent back to back.
- p99 at concurrency 1 is scheduler noise more than work: the direct path alone has p99 ${ms(L.direct.p99)} ms against
  p50 ${ms(L.direct.p50)} ms, and the added p99 is the difference of two such tails (agent alone +${ms(L.agent.p99 - L.direct.p99)} ms, gateway
  alone +${ms(L[G].p99 - L.direct.p99)} ms, both hops +${ms(L.added.p99)} ms); at p50 the agent hop adds ${ms(L.agent.p50 - L.direct.p50)} ms, the gateway hop ${ms(L.gatewayHop.p50)} ms.
- The time to first token is measured after 3 unmeasured rounds of 32 streams at once on every
  path (so V8 has compiled each process's streaming code, as in a server that has been up a while),
  then ${S.rounds} streams one at a time; the p50 of those.
- machine: ${cpus().length} cores shared by the load generator, gateway, agent and stand-ins (and whatever else runs), Node ${process.version}, ${date}
- command: \`${command}\` (\`pnpm bench -- --quick\` for a shorter run; \`--profile DIR\` writes CPU profiles)
`;
  let text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = text.includes(TITLE) ? text.indexOf(TITLE) : text.indexOf(OLD_TITLE);
  if (start >= 0) {
    const next = text.indexOf("\n## ", start + 5);
    text = text.slice(0, start) + section + (next >= 0 ? `\n${text.slice(next + 1)}` : "");
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, text);
}
