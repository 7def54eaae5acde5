import { useState, type FormEvent } from "react";
import { callJson } from "../api/client.js";
import { ErrorNote } from "../components/error-note.js";
import { ModelSelect } from "./model-select.js";

interface ImagesResponse {
  data: Array<{ b64_json?: string; url?: string }>;
}

/** Image generation: a prompt in, the picture shown. */
export function Images() {
  const [model, setModel] = useState("");
  const [prompt, setPrompt] = useState("");
  const [size, setSize] = useState("512x512");
  const [images, setImages] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await callJson<ImagesResponse>("/v1/images/generations", { json: { model, prompt, size, n: 1, response_format: "b64_json" } });
      setImages(res.data.map((d) => (d.b64_json ? `data:image/png;base64,${d.b64_json}` : (d.url ?? ""))).filter(Boolean));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Images">
      <div className="grid">
        <label>
          Model
          <ModelSelect id="image-model" capability="image_generation" value={model} onChange={setModel} />
        </label>
        <label>
          Size
          <select value={size} onChange={(e) => setSize(e.target.value)}>
            <option>256x256</option>
            <option>512x512</option>
            <option>1024x1024</option>
          </select>
        </label>
      </div>
      <label>
        Prompt
        <textarea value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={2} required />
      </label>
      <button type="submit" aria-busy={busy} disabled={busy || !model || !prompt.trim()}>
        Generate
      </button>
      <ErrorNote error={error} />
      <div className="images">
        {images.map((src, i) => (
          <img key={i} src={src} alt={`Generated from: ${prompt}`} />
        ))}
      </div>
    </form>
  );
}
