import { describe, expect, it } from "vitest";
import { ENDPOINTS, endpointOf, formFields, missingFilePart } from "./endpoints.js";
import { Capability, CAPABILITY_ENDPOINTS } from "./runtimes.js";

describe("endpoint table", () => {
  it("has one endpoint per capability, on the capability's path", () => {
    for (const capability of Capability.options) {
      expect(ENDPOINTS[capability].capability).toBe(capability);
      expect(ENDPOINTS[capability].path).toBe(CAPABILITY_ENDPOINTS[capability]);
    }
  });

  it("finds an endpoint by exact POST path, the query ignored, and nothing else", () => {
    expect(endpointOf("POST", "/v1/audio/speech")).toBe(ENDPOINTS.speech);
    expect(endpointOf("POST", "/v1/chat/completions?x=1")).toBe(ENDPOINTS.chat);
    expect(endpointOf("GET", "/v1/chat/completions")).toBeUndefined();
    expect(endpointOf("POST", "/v1/chat/completions/")).toBeUndefined();
    expect(endpointOf("POST", "/v1/models")).toBeUndefined();
    expect(endpointOf(undefined, undefined)).toBeUndefined();
  });

  it("takes an image as `image` or `image[]` (what the OpenAI SDKs send for one or several) on edits and variations", () => {
    expect(ENDPOINTS.image_edit.file.fields).toEqual(["image", "image[]"]);
    expect(ENDPOINTS.image_variation.file.fields).toEqual(["image", "image[]"]);
    expect(ENDPOINTS.transcription.file.fields).toEqual(["file"]);
    expect(missingFilePart(ENDPOINTS.image_edit)).toEqual({
      message: "The form has no file part 'image' or 'image[]' (the image to edit). Attach it as 'image' or 'image[]'.",
      param: "image",
    });
  });

  it("reads a form field sent twice as its last value", () => {
    expect(formFields({ model: ["a", "b"], n: "2" })).toEqual({ model: "b", n: "2" });
    expect(formFields(undefined)).toEqual({});
  });
});
