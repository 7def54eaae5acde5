import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class RuntimeIdError extends Error {
  override name = "RuntimeIdError";
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The node's identity: a UUID kept in `<stateDir>/runtime-id` so a restarted agent is the same node
 * to the gateway (its models and states stay attached to one `runtime_id`). Written to a temporary
 * file and renamed, so a crash mid-write never leaves a half-written id behind.
 */
export async function loadOrCreateRuntimeId(stateDir: string): Promise<string> {
  const file = join(stateDir, "runtime-id");
  let existing: string | undefined;
  try {
    existing = (await readFile(file, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (existing !== undefined) {
    if (!UUID.test(existing)) {
      throw new RuntimeIdError(
        file,
        `${file} does not hold a UUID. Delete the file to give this node a new identity, or restore the old id.`,
      );
    }
    return existing.toLowerCase();
  }
  const id = randomUUID();
  await mkdir(stateDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${id}\n`, { mode: 0o644 });
  await rename(tmp, file);
  return id;
}
