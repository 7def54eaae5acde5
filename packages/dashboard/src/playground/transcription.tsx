import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { callJson } from "../api/client.js";
import { ErrorNote } from "../components/error-note.js";
import { ModelSelect } from "./model-select.js";

/** Speech to text: upload an audio file, read what was said. */
export function Transcription() {
  const [model, setModel] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [language, setLanguage] = useState("");
  const transcribe = useMutation({
    mutationFn: async (audio: File) => {
      const form = new FormData();
      form.append("model", model);
      form.append("file", audio);
      if (language.trim()) form.append("language", language.trim());
      return (await callJson<{ text: string }>("/v1/audio/transcriptions", { body: form })).text;
    },
  });

  return (
    <form onSubmit={(e) => (e.preventDefault(), file && transcribe.mutate(file))} aria-label="Transcription">
      <div className="grid">
        <label>
          Model
          <ModelSelect id="asr-model" capability="transcription" value={model} onChange={setModel} />
        </label>
        <label>
          Language (optional)
          <input value={language} onChange={(e) => setLanguage(e.target.value)} placeholder="en, de, … (empty: detect)" />
        </label>
      </div>
      <label>
        Audio file
        <input type="file" accept="audio/*,.wav,.mp3,.ogg,.flac,.m4a,.webm" onChange={(e) => setFile(e.target.files?.[0] ?? null)} required />
      </label>
      <button type="submit" aria-busy={transcribe.isPending} disabled={transcribe.isPending || !model || !file}>
        Transcribe
      </button>
      <ErrorNote error={transcribe.error} />
      {transcribe.data !== undefined ? (
        <blockquote aria-label="Transcript" className="pre">
          {transcribe.data || "(nothing was said)"}
        </blockquote>
      ) : null}
    </form>
  );
}
