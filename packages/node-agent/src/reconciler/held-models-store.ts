import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { ModelRecord } from "@omnigate/shared/models";

const HeldModelsFile = z.object({ version: z.literal(1), models: z.array(ModelRecord) });

/**
 * The models this node holds (or may hold debris of), kept on disk so an agent that was down while
 * the gateway deleted a model still removes its cache files when it comes back. Writes go to a
 * temporary file and are renamed, one at a time, so the file is always a complete older or newer copy.
 */
export class HeldModelsStore {
  readonly #file: string;
  #chain: Promise<void> = Promise.resolve();

  constructor(file: string) {
    this.#file = file;
  }

  /** What a previous run held; empty when there is no file or it is unreadable (logged by the caller). */
  async load(): Promise<ModelRecord[]> {
    let text: string;
    try {
      text = await readFile(this.#file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const parsed = HeldModelsFile.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.#file} is not a held-models file: ${parsed.error.message}`);
    return parsed.data.models;
  }

  /** Queues a write of `models`; resolves when it (and every earlier one) is on disk. */
  save(models: readonly ModelRecord[]): Promise<void> {
    const body = `${JSON.stringify({ version: 1, models }, null, 2)}\n`;
    this.#chain = this.#chain
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(this.#file), { recursive: true });
        const tmp = `${this.#file}.${process.pid}.tmp`;
        await writeFile(tmp, body);
        await rename(tmp, this.#file);
      });
    return this.#chain;
  }

  /** Waits for every queued write. */
  flush(): Promise<void> {
    return this.#chain.catch(() => undefined);
  }
}
