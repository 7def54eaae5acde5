import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hfHome, hubCacheDir, hubEndpoint, isOffline, resolveHubToken } from "./hub-config.js";

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "omnigate-hfhome-"));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("huggingface_hub environment", () => {
  it("reads the token from HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then $HF_HOME/token", async () => {
    expect(resolveHubToken({ HF_HOME: home })).toBeUndefined();
    await writeFile(join(home, "token"), "hf_fromfile\n");
    expect(resolveHubToken({ HF_HOME: home })).toBe("hf_fromfile");
    expect(resolveHubToken({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: "hf_old" })).toBe("hf_old");
    expect(resolveHubToken({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: "hf_old", HF_TOKEN: "hf_new" })).toBe("hf_new");
    expect(resolveHubToken({ HF_HOME: home, HF_TOKEN: "  " })).toBe("hf_fromfile");
  });
  it("finds the cache like huggingface_hub", () => {
    expect(hubCacheDir({ HF_HUB_CACHE: "/x/hub", HF_HOME: "/y" })).toBe("/x/hub");
    expect(hubCacheDir({ HF_HOME: "/y" })).toBe("/y/hub");
    expect(hfHome({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/huggingface");
    expect(hubCacheDir({})).toBe(join(homedir(), ".cache", "huggingface", "hub"));
  });
  it("strips the endpoint's trailing slash and reads offline flags", () => {
    expect(hubEndpoint({ HF_ENDPOINT: "http://127.0.0.1:9/" })).toBe("http://127.0.0.1:9");
    expect(hubEndpoint({})).toBe("https://huggingface.co");
    expect(isOffline({ HF_HUB_OFFLINE: "1" })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: "TRUE" })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: "0" })).toBe(false);
    expect(isOffline({})).toBe(false);
  });
});
