import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { ENDPOINTS, validBody } from "./endpoints.js";
import { ApiError } from "./errors.js";
import { ChatCompletionRequest, CompletionRequest, EmbeddingRequest, quickChatCompletion, quickCompletion, quickEmbedding } from "./openai.js";

// Values of every JSON type, and near misses of the shapes the quick checks accept.
const VALUES: unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  1.5,
  "",
  "hi",
  [],
  [""],
  ["a", "b"],
  ["a", 1],
  [1, 2],
  [[1], [2]],
  [{}],
  [{ role: "user", content: "hi" }],
  [{ role: "user" }, { role: 1 }],
  [{ role: "user" }, null],
  [{ role: "user" }, ["role"]],
  [[{ role: "user" }]],
  {},
  { role: "user" },
];

/** Every body of `fields` × VALUES, with the model set, and each field also left out. */
function* bodies(fields: readonly string[]): Generator<Record<string, unknown>> {
  const pick = (i: number, field: number) => Math.floor(i / VALUES.length ** field) % VALUES.length;
  for (let i = 0; i < VALUES.length ** fields.length; i++) {
    const body: Record<string, unknown> = { model: "org/model" };
    fields.forEach((f, n) => {
      const value = VALUES[pick(i, n)];
      if (value !== undefined) body[f] = value;
    });
    yield body;
  }
}

const PAIRS: [string, z.ZodType, (b: Record<string, unknown>) => boolean, readonly string[]][] = [
  ["chat", ChatCompletionRequest, quickChatCompletion, ["messages", "stream"]],
  ["completion", CompletionRequest, quickCompletion, ["prompt", "stream"]],
  ["embedding", EmbeddingRequest, quickEmbedding, ["input", "stream"]],
];

describe("quick checks of the usual request shapes", () => {
  for (const [name, schema, quick, fields] of PAIRS) {
    it(`${name}: says yes only where the schema says yes and leaves the body as it is`, () => {
      let yes = 0;
      for (const body of bodies(fields)) {
        if (!quick(body)) continue;
        yes++;
        const parsed = schema.safeParse(body);
        expect(parsed.success, JSON.stringify(body)).toBe(true);
        expect(parsed.data, JSON.stringify(body)).toEqual(body);
      }
      // The usual requests do take the quick way.
      expect(yes).toBeGreaterThan(0);
    });
  }
});

describe("validBody", () => {
  it("passes a usual chat as it is, and names the field of a bad one as the schema does", () => {
    const ok = { model: "org/chat", messages: [{ role: "user", content: "hi" }], stream: true, temperature: 0.2 };
    expect(validBody(ENDPOINTS.chat, ok)).toEqual(ok);
    // The second time the model name is known valid: the quick way, the very same object.
    expect(validBody(ENDPOINTS.chat, ok)).toBe(ok);
    const bad = (() => {
      try {
        validBody(ENDPOINTS.chat, { model: "org/chat", messages: [] });
      } catch (err) {
        return err;
      }
    })();
    expect(bad).toBeInstanceOf(ApiError);
    expect(bad).toMatchObject({ code: "invalid_request", param: "messages" });
  });

  it("never lets a bad model name through, known names or not", () => {
    validBody(ENDPOINTS.chat, { model: "org/chat", messages: [{ role: "user" }] });
    for (const model of ["", "x\u0007y", "../x", "a//b", "x".repeat(300), 42]) {
      expect(() => validBody(ENDPOINTS.chat, { model, messages: [{ role: "user" }] }), String(model)).toThrow(ApiError);
    }
  });

  it("fills the schema's defaults where an endpoint has no quick check", () => {
    expect(validBody(ENDPOINTS.speech, { model: "org/tts", input: "hello" })).toMatchObject({ response_format: "mp3", speed: 1 });
  });
});
