import { createServer } from "node:net";

/**
 * A port free on 127.0.0.1 right now. The engine binds it a moment later; if something else took it
 * meanwhile, the engine exits and the supervisor restarts it on a new port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}
