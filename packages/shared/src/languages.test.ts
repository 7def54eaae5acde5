import { describe, expect, it } from "vitest";
import { TRANSCRIPTION_LANGUAGES, transcriptionLanguage } from "./languages.js";
import { TranscriptionFields } from "./openai.js";

describe("transcription languages", () => {
  it("knows whisper's 100 languages by code and by English name, in any case", () => {
    expect(TRANSCRIPTION_LANGUAGES.size).toBe(100);
    expect(transcriptionLanguage("en")).toBe("en");
    expect(transcriptionLanguage(" DE ")).toBe("de");
    expect(transcriptionLanguage("Haitian Creole")).toBe("ht");
    expect(transcriptionLanguage("yue")).toBe("yue");
    expect(transcriptionLanguage("klingon")).toBeUndefined();
    expect(transcriptionLanguage("auto")).toBeUndefined();
  });

  it("normalises the transcription `language` field and refuses what whisper does not know", () => {
    expect(TranscriptionFields.parse({ model: "m", language: "German" }).language).toBe("de");
    expect(TranscriptionFields.parse({ model: "m" }).language).toBeUndefined();
    const bad = TranscriptionFields.safeParse({ model: "m", language: "xx" });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ path: ["language"], message: expect.stringMatching(/'xx' is not a language whisper knows/) });
  });
});
