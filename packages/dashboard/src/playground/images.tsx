import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
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
  const generate = useMutation({
    mutationFn: async () => {
      const res = await callJson<ImagesResponse>("/v1/images/generations", { json: { model, prompt, size, n: 1, response_format: "b64_json" } });
      return { prompt, images: res.data.map((d) => (d.b64_json ? `data:image/png;base64,${d.b64_json}` : (d.url ?? ""))).filter(Boolean) };
    },
  });

  return (
    <form onSubmit={(e) => (e.preventDefault(), generate.mutate())} aria-label="Images">
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
      <button type="submit" aria-busy={generate.isPending} disabled={generate.isPending || !model || !prompt.trim()}>
        Generate
      </button>
      <ErrorNote error={generate.error} />
      <div className="images">
        {generate.data?.images.map((src, i) => (
          <img key={i} src={src} alt={`Generated from: ${generate.data.prompt}`} />
        ))}
      </div>
    </form>
  );
}
