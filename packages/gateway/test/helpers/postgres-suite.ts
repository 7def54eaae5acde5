import { afterAll, beforeAll } from "vitest";
import { startPostgres, type TestPostgres } from "@omnigate/testkit/postgres";

/**
 * One real PostgreSQL for the calling suite: started before its first test, stopped (data removed)
 * after its last. Each test takes a fresh database of it (`createDatabase`).
 */
export function suitePostgres(): () => TestPostgres {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.close());
  return () => {
    if (!server) throw new Error("PostgreSQL is not started: call suitePostgres() at the top of a test file");
    return server;
  };
}
