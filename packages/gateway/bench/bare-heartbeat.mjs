#!/usr/bin/env node
// The fleet bench's floor: the leanest Node server answering the node protocol — it reads and
// parses each JSON body and answers a fixed small JSON, with no auth, validation or placement.
// Prints "listening <url>".
import { createServer } from "node:http";
const answer = JSON.stringify({ runtime_id: "x", node_secret: "x", heartbeat_interval_ms: 5000, desired_version: "v" });
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    JSON.parse(Buffer.concat(chunks).toString("utf8"));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(answer);
  });
}).listen(0, "127.0.0.1", () => process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`));
