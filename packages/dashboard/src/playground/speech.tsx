import { useMutation } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { call } from "../api/client.js";
import { ErrorNote } from "../components/error-note.js";
import { ModelSelect } from "./model-select.js";

/** Text to speech: the audio plays in the page. */
export function Speech() {
  const [model, setModel] = useState("");
  const [text, setText] = useState("");
  const [voice, setVoice] = useState("");
  const speak = useMutation({
    mutationFn: async () => {
      const res = await call("/v1/audio/speech", { json: { model, input: text, response_format: "wav", ...(voice.trim() ? { voice: voice.trim() } : {}) } });
      return URL.createObjectURL(await res.blob());
    },
  });
  const audio = speak.data;
  // Each new clip's object URL replaces the last one's, which is released.
  useEffect(() => () => (audio ? URL.revokeObjectURL(audio) : undefined), [audio]);

  return (
    <form onSubmit={(e) => (e.preventDefault(), speak.mutate())} aria-label="Speech">
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
      <button type="submit" aria-busy={speak.isPending} disabled={speak.isPending || !model || !text.trim()}>
        Speak
      </button>
      <ErrorNote error={speak.error} />
      {audio ? <audio controls src={audio} autoPlay aria-label="Generated speech" /> : null}
    </form>
  );
}
