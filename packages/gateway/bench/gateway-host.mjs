#!/usr/bin/env node
// The gateway for the benchmark: exactly what dist/main.js runs (loadConfig → startGateway, SIGTERM
// → close), plus bench-only hooks over the IPC channel to the parent: the node secrets, so the
// benchmark can also time client → agent directly and attribute the gateway's own share of the
// latency (the secrets only ever travel over that private channel, never to a log or a file); and
// the moment a node's model turns ready in this gateway's readiness (what requests are routed on),
// to time a change reported to another gateway arriving here.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { loadConfig } from "../dist/config.js";
import { createLogger } from "../dist/logger.js";
import { startGateway } from "../dist/server.js";

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const gw = await startGateway(config, logger);
process.stdout.write(`omnigate gateway listening on ${gw.url}\n`);
// Bench-only: a CPU profile of a window the parent chooses (run.mjs --profile), main thread only.
let session;
process.on("message", (msg) => {
  if (msg?.type === "profile-start") {
    session = new Session();
    session.connect();
    session.post("Profiler.enable", () => session.post("Profiler.start", () => process.send?.({ type: "profile-start" })));
  }
  if (msg?.type === "profile-stop") {
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(msg.file, JSON.stringify(result.profile));
      session.disconnect();
      process.send?.({ type: "profile-stop", file: msg.file });
    });
  }
  if (msg?.type === "watch") {
    // Each time `msg.model` turns ready (or stops being ready) on `msg.node`, as this gateway routes.
    let ready;
    gw.nodes.on("change", (entry) => {
      if (entry.runtimeId !== msg.node) return;
      const now = entry.models.get(msg.model)?.state === "ready" && gw.nodes.isOnline(entry);
      if (now === ready) return;
      ready = now;
      process.send?.({ type: "ready-change", ready: now, at: performance.timeOrigin + performance.now() });
    });
    process.send?.({ type: "watch" });
  }
  if (msg?.type === "nodes") {
    process.send?.({ type: "nodes", nodes: gw.nodes.list().map((n) => ({ runtimeId: n.runtimeId, agentUrl: n.registration.agent_url, secret: n.secret })) });
  }
});
const stop = () => gw.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
