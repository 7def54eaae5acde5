import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { lingerOnUnreadBody, type LingerLimits } from "./linger.js";
import { sendJson } from "./respond.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server that refuses every request at once, before reading its body, lingering within `limits`. */
async function refusing(limits: LingerLimits): Promise<number> {
  const server = createServer((_req, res) => {
    lingerOnUnreadBody(res, limits);
    sendJson(res, 413, { error: "too large" });
  }).listen(0, "127.0.0.1");
  servers.push(server);
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** Sends a head and then `chunks` of 1 KiB `gapMs` apart; resolves with what came back and how it ended. */
async function send(port: number, head: string, chunks: number, gapMs = 2): Promise<{ received: string; cut: boolean; writeError: boolean }> {
  const socket: Socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let received = "";
  let writeError = false;
  socket.setEncoding("utf8").on("data", (t: string) => (received += t));
  socket.on("error", () => (writeError = true));
  const ended = new Promise<boolean>((resolve) => socket.once("close", () => resolve(true)));
  socket.write(head);
  for (let i = 0; i < chunks && !socket.destroyed; i++) {
    socket.write(Buffer.alloc(1024, 120));
    await new Promise((r) => setTimeout(r, gapMs));
  }
  const cut = await Promise.race([ended, new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
  socket.destroy();
  return { received, cut, writeError };
}

const LIMITS: LingerLimits = { maxBytes: 64 * 1024, maxMs: 10_000, idleMs: 200 };

describe("lingering on an unread body", () => {
  it("reads and drops a body within the bound: the answer arrives and the connection stays open", async () => {
    const port = await refusing(LIMITS);
    const r = await send(port, "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 32768\r\n\r\n", 32);
    expect(r.received).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.received).not.toMatch(/connection: close/i);
    expect([r.cut, r.writeError]).toEqual([false, false]);
  });

  it("says Connection: close to a body declared beyond the bound, and does not wait for it", async () => {
    const port = await refusing(LIMITS);
    const r = await send(port, "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10000000\r\n\r\n", 0);
    expect(r.received).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.received).toMatch(/connection: close/i);
    expect(r.cut).toBe(true);
  });

  it("cuts a chunked body that goes on past the bound", async () => {
    const port = await refusing(LIMITS);
    const head = "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.on("error", () => {});
    socket.write(head);
    for (let i = 0; i < 200 && !socket.destroyed; i++) {
      socket.write(`400\r\n${"x".repeat(1024)}\r\n`);
      await new Promise((r) => setTimeout(r, 1));
    }
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it("cuts a client that goes silent in the middle of its body", async () => {
    const port = await refusing(LIMITS);
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.on("error", () => {});
    // Reading, so the server's close shows as this socket's close.
    socket.resume();
    socket.write("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 32768\r\n\r\nxxxx");
    // Nothing more is sent: the idle bound (200 ms here) ends the wait.
    await closed;
  });
});
