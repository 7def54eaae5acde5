import { useState, type FormEvent } from "react";
import { callJson } from "../api/client.js";
import { ErrorNote } from "../components/error-note.js";
import { ModelSelect } from "./model-select.js";

/** Speech to text: upload an audio file, read what was said. */
export function Transcription() {
  const [model, setModel] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [language, setLanguage] = useState("");
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    const form = new FormData();
    form.append("model", model);
    form.append("file", file);
    if (language.trim()) form.append("language", language.trim());
    setBusy(true);
    setError(null);
    try {
      setText((await callJson<{ text: string }>("/v1/audio/transcriptions", { body: form })).text);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Transcription">
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
      <button type="submit" aria-busy={busy} disabled={busy || !model || !file}>
        Transcribe
      </button>
      <ErrorNote error={error} />
      {text !== null ? (
        <blockquote aria-label="Transcript" className="pre">
          {text || "(nothing was said)"}
        </blockquote>
      ) : null}
    </form>
  );
}
