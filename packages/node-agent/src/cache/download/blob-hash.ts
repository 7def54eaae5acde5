import { createHash, type Hash } from "node:crypto";
import { open } from "node:fs/promises";

/** LFS etags are sha256 of the content; other files' etags are git blob sha1s. */
export type HashKind = "sha256" | "git-sha1";

export function hashKindOf(etag: string): HashKind {
  return etag.length === 64 ? "sha256" : "git-sha1";
}

/** The hash an etag is, over content of a known size (git's blob header needs the size up front). */
function blobHash(kind: HashKind, size: number): Hash {
  const hash = createHash(kind === "sha256" ? "sha256" : "sha1");
  if (kind === "git-sha1") hash.update(`blob ${size}\0`);
  return hash;
}

const READ_CHUNK = 4 << 20;

/** Hashes a whole file on this thread (verify, and blobs not yet stamped); one sequential read. */
export async function hashFile(path: string, kind: HashKind, size: number, signal?: AbortSignal): Promise<string> {
  const hash = blobHash(kind, size);
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (let pos = 0; ; ) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}
