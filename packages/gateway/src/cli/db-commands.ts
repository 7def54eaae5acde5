import type { Command } from "commander";
import { pino } from "pino";
import { PostgresBackend } from "../store/postgres/pg-backend.js";
import { isPgUrl } from "../store/postgres/pg-url.js";
import { SqliteBackend } from "../store/sqlite/sqlite-backend.js";
import { copyStore } from "../store/copy-store.js";
import { CliError } from "./admin-client.js";

/**
 * `omnigate db copy --from sqlite:<data dir> --to postgres://…`: moves a one-box install's state
 * (models, keys, nodes, placement, certificates) into an empty PostgreSQL database, for several
 * gateways to share. Runs on the box, against the files and the database, not through a gateway.
 */
export function registerDbCommands(program: Command): void {
  const db = program.command("db").description("the gateway's database (run on the gateway's box, with the gateway stopped)");
  db.command("copy")
    .description("copy a SQLite data dir's state into an empty PostgreSQL database (OMNIGATE_DATABASE_URL for several gateways)")
    .requiredOption("--from <sqlite:dir>", "the data dir of the gateway to move, as sqlite:<OMNIGATE_DATA_DIR>")
    .requiredOption("--to <postgres-url>", "postgres://user:password@host:5432/database (created empty beforehand)")
    .action(async (options: { from: string; to: string }) => {
      if (!options.from.startsWith("sqlite:") || options.from.length <= "sqlite:".length) {
        throw new CliError(`--from must be sqlite:<data dir> (the gateway's OMNIGATE_DATA_DIR), not '${options.from}'`);
      }
      if (!isPgUrl(options.to)) throw new CliError("--to must be a postgres:// (or postgresql://) URL");
      const from = new SqliteBackend(options.from.slice("sqlite:".length));
      let to: PostgresBackend | undefined;
      try {
        to = await PostgresBackend.open({ url: options.to, logger: pino({ level: "silent" }), leaderCheckMs: 2_000 });
        const counts = await copyStore(from, to);
        const copied = Object.entries(counts)
          .filter(([, n]) => n > 0)
          .map(([table, n]) => `${n} ${table}`);
        console.log(`copied ${copied.length > 0 ? copied.join(", ") : "nothing (the data dir is empty)"} from ${from.where} to ${to.where}`);
        console.log("start every gateway with OMNIGATE_DATABASE_URL and this data dir's cluster.secret (or OMNIGATE_CLUSTER_SECRET), admin key and node token: the nodes carry on without registering again.");
      } catch (err) {
        throw new CliError((err as Error).message);
      } finally {
        await from.close();
        await to?.close();
      }
    });
}
