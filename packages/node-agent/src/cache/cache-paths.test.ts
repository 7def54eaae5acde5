import { describe, expect, it } from "vitest";
import { CacheLayout, checkRepo, checkRepoPath, checkRevision, repoFolderName, repoFromFolder } from "./cache-paths.js";
import { UnsafeInputError } from "./cache-errors.js";

const layout = new CacheLayout("/c/hub");
const commit = "a".repeat(40);
const sha = "b".repeat(64);

describe("cache paths", () => {
  it("names repo folders like huggingface_hub", () => {
    expect(repoFolderName("org/name")).toBe("models--org--name");
    expect(repoFromFolder("models--org--name")).toBe("org/name");
    expect(repoFromFolder(".locks")).toBeUndefined();
    expect(layout.blobPath("org/m", sha)).toBe(`/c/hub/models--org--m/blobs/${sha}`);
    expect(layout.snapshotFile("org/m", commit, "a/b.txt")).toBe(`/c/hub/models--org--m/snapshots/${commit}/a/b.txt`);
    expect(layout.refPath("org/m", "refs/pr/1")).toBe("/c/hub/models--org--m/refs/refs/pr/1");
    expect(layout.lockPath("org/m", sha)).toBe(`/c/hub/.locks/models--org--m/${sha}.omnigate.lock`);
    expect(layout.linkTarget(layout.snapshotFile("org/m", commit, "a/b.txt"), layout.blobPath("org/m", sha))).toBe(`../../../blobs/${sha}`);
  });

  it.each([
    ["repo", () => checkRepo("../etc"), /repo "..\/etc" refused/],
    ["repo with --", () => checkRepo("a--b/c"), /must not contain '--'/],
    ["absolute repo", () => checkRepo("/etc/passwd"), /refused/],
    ["revision ..", () => checkRevision("main/../../x"), /revision .* refused: revision must not contain '..'/],
    ["revision with NUL", () => checkRevision("ma\0in"), /refused/],
    ["path ..", () => checkRepoPath("../x", "file pattern"), /file pattern "..\/x" refused: it contains a '.' or '..' segment/],
    ["absolute path", () => checkRepoPath("/etc/x", "file pattern"), /it is absolute/],
    ["backslash", () => checkRepoPath("a\\..\\b", "file pattern"), /it contains a backslash/],
    ["NUL", () => checkRepoPath("a\0b", "file pattern"), /it contains a NUL byte/],
    ["etag that is a path", () => layout.blobPath("org/m", "../../../etc/passwd"), /not a sha1 or sha256/],
    ["commit that is a path", () => layout.snapshotDir("org/m", "../../x"), /not a 40-hex git hash/],
  ])("refuses a hostile %s", (_name, fn, message) => {
    expect(fn).toThrow(UnsafeInputError);
    expect(fn).toThrow(message);
  });

  it("fences every path inside the root even if a check upstream missed it", () => {
    expect(() => layout.inside("/c/hub/../x")).toThrow(/outside the cache folder/);
    expect(() => layout.inside("/c/hub")).toThrow(UnsafeInputError);
    expect(layout.inside("/c/hub/a/../b")).toBe("/c/hub/b");
  });
});
