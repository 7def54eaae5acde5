import { useEffect, useState, type FormEvent } from "react";
import { call } from "../api/client.js";
import { ErrorNote } from "../components/error-note.js";
import { ModelSelect } from "./model-select.js";

/** Text to speech: the audio plays in the page. */
export function Speech() {
  const [model, setModel] = useState("");
  const [text, setText] = useState("");
  const [voice, setVoice] = useState("");
  const [audio, setAudio] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Each new clip's object URL replaces the last one's, which is released.
  useEffect(() => () => (audio ? URL.revokeObjectURL(audio) : undefined), [audio]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await call("/v1/audio/speech", { json: { model, input: text, response_format: "wav", ...(voice.trim() ? { voice: voice.trim() } : {}) } });
      setAudio(URL.createObjectURL(await res.blob()));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Speech">
      <div className="grid">
        <label>
          Model
          <ModelSelect id="speech-model" capability="speech" value={model} onChange={setModel} />
        </label>
        <label>
          Voice (optional)
          <input value={voice} onChange={(e) => setVoice(e.target.value)} placeholder="a voice the model defines" />
        </label>
      </div>
      <label>
        Text
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} required />
      </label>
      <button type="submit" aria-busy={busy} disabled={busy || !model || !text.trim()}>
        Speak
      </button>
      <ErrorNote error={error} />
      {audio ? <audio controls src={audio} autoPlay aria-label="Generated speech" /> : null}
    </form>
  );
}
