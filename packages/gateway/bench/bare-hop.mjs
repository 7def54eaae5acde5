#!/usr/bin/env node
// Bench reference (not product code): the leanest Node proxy hop there is — plain node:http in,
// an undici keep-alive Pool out, no auth, no parsing, no validation — in front of one stand-in.
// Its added time to first token is the floor any Node hop pays on this machine (the process
// waking up, one more loopback connection each way); the agent and the gateway are read against it.
// Usage: node bare-hop.mjs <upstream origin>; prints "bare hop listening on <url>".
import { createServer } from "node:http";
import { Pool } from "undici";

const pool = new Pool(process.argv[2], { connections: null, pipelining: 1 });
const server = createServer({ noDelay: true }, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      const up = await pool.request({ method: "POST", path: req.url, body: Buffer.concat(chunks), headers: { "content-type": "application/json" } });
      res.writeHead(up.statusCode, { "content-type": up.headers["content-type"] ?? "application/json" });
      res.flushHeaders();
      for await (const chunk of up.body) res.write(chunk);
      res.end();
    } catch (err) {
      res.destroy(err);
    }
  });
});
server.listen(0, "127.0.0.1", () => console.log(`bare hop listening on http://127.0.0.1:${server.address().port}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(0));
