// The paths the data-plane benchmark times side by side, and how each is read against its floor.
//
// Every path ends at a stand-in llama-server with the same knobs. `floor` names the path of bare
// Node relay hops (bench/bare-hop.mjs: node:http in, a keep-alive pool out, nothing else) with as
// many hops: what the path adds is read against what those add, in the same run. `cpu` names the
// processes whose CPU per request the throughput runs show (the hops first, the engine last).
// A new path is one more row here and one more case in the stack's `target()` (bench/stack.mjs).
export const PATHS = {
  direct: { what: "client → stand-in", cpu: ["engine"] },
  // Each hop is read against a bare hop in front of the same upstream process: the agent's against
  // one in front of the agent's own engine (`base`: the path whose p50 the added time is over).
  engine: { what: "client → the agent's engine (the stand-in the agent runs)", cpu: ["engine"] },
  agent: { what: "client → agent → stand-in (the agent hop alone)", floor: "bare-e", base: "engine", cpu: ["agent", "engine"] },
  "gateway-only": { what: "client → gateway → stand-in (the gateway hop alone)", floor: "bare-1", cpu: ["gateway", "engine"] },
  gateway: { what: "client → gateway → agent → stand-in (the gateway path)", floor: "bare-2", cpu: ["gateway", "agent", "engine"] },
  // Read against the plain gateway path (report.mjs): what mutual TLS on the gateway → agent hop adds.
  "gateway-mtls": { what: "client → gateway → agent over mutual TLS → stand-in (a second gateway; its agent serves HTTPS)", cpu: ["gateway", "agent", "engine"] },
  // Read against the plain gateway path too: the store on PostgreSQL instead of SQLite (nothing of it is on a request's path).
  "gateway-pg": { what: "client → gateway on PostgreSQL → agent → stand-in (a third gateway; its store is a PostgreSQL the bench starts)", cpu: ["gateway", "agent", "engine"] },
  "bare-1": { what: "client → bare hop → stand-in", cpu: ["bare-1", "engine"] },
  "bare-e": { what: "client → bare hop → the agent's engine", base: "engine", cpu: ["bare-e", "engine"] },
  "bare-2": { what: "client → bare hop → bare hop → stand-in", cpu: ["bare-2", "bare-1", "engine"] },
};

export const PATH_NAMES = Object.keys(PATHS);
/** The paths read against a floor, in the order the summary lists them. */
export const HOPS = PATH_NAMES.filter((name) => PATHS[name].floor);

/** Each hop's added p50 may be at most this many times its floor's (issue 10). */
export const LATENCY_RATIO_GOAL = 1.5;
/** The gateway path's throughput must be at least this share of two bare hops' (issue 10). */
export const THROUGHPUT_RATIO_GOAL = 0.7;
/** The path the throughput goal is about. */
export const THROUGHPUT_GOAL_PATH = "gateway";

/** The CPU per request of a path's own hops (everything but the engine), in µs. */
function hopCpuUs(throughput) {
  return Object.entries(throughput.cpuPerRequestUs)
    .filter(([name]) => name !== "engine")
    .reduce((sum, [, us]) => sum + us, 0);
}

/**
 * The hot path against its floors: per hop path, its added p50 (over direct) and its floor's, its
 * best throughput and its floor's, its hops' CPU per request and its floor's, as ratios. Needs the
 * latency and throughput results of one run.
 */
export function hotPathRatios(latency, throughput) {
  return HOPS.map((name) => {
    const floor = PATHS[name].floor;
    const added = latency[name].p50 - latency[PATHS[name].base ?? "direct"].p50;
    const floorAdded = latency[floor].p50 - latency[PATHS[floor].base ?? "direct"].p50;
    const cpu = hopCpuUs(throughput[name]);
    const floorCpu = hopCpuUs(throughput[floor]);
    return {
      name,
      what: PATHS[name].what,
      floor,
      added,
      floorAdded,
      latencyRatio: added / floorAdded,
      latencyOk: added / floorAdded <= LATENCY_RATIO_GOAL,
      rps: throughput[name].rps,
      floorRps: throughput[floor].rps,
      rpsRatio: throughput[name].rps / throughput[floor].rps,
      rpsGoal: name === THROUGHPUT_GOAL_PATH ? THROUGHPUT_RATIO_GOAL : undefined,
      cpu,
      floorCpu,
    };
  });
}
