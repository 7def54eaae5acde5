import { open } from "node:fs/promises";
import { GgufFormatError, parseGgufHeader, tensorBoundsProblem, type GgufHeader, type ReadGgufOptions } from "@omnigate/shared/gguf";

/** Parses a local GGUF file's header (the parser is shared with the gateway, which reads over HTTP). */
export async function readGgufHeader(path: string, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    return await parseGgufHeader({ size, read: async (buf, offset, length, position) => (await fh.read(buf, offset, length, position)).bytesRead }, options);
  } finally {
    await fh.close();
  }
}

export type GgufCheck = { ok: true; header: GgufHeader } | { ok: false; reason: string };

/** The cheap structural check (magic, version, counts, tensor bounds): a file that fails it is never handed to an engine. */
export async function checkGgufFile(path: string): Promise<GgufCheck> {
  try {
    const header = await readGgufHeader(path, { maxArrayItems: 0 });
    const problem = tensorBoundsProblem(header);
    return problem ? { ok: false, reason: problem } : { ok: true, header };
  } catch (err) {
    if (err instanceof GgufFormatError) return { ok: false, reason: err.message };
    throw err;
  }
}
