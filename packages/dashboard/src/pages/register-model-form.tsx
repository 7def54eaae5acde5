import { useMutation } from "@tanstack/react-query";
import { useId, useState, type FormEvent, type ReactNode } from "react";
import type { ModelRecord, RegisterModelRequest } from "@omnigate/shared/models";
import { ApiError, callJson } from "../api/client.js";

const RUNTIMES = [
  ["", "infer from the files"],
  ["llama_cpp", "llama_cpp (chat, completions, embeddings)"],
  ["whisper", "whisper (transcription)"],
  ["onnx_runtime", "onnx_runtime (speech)"],
  ["stable_diffusion", "stable_diffusion (images)"],
] as const;

type FieldName = "repo" | "name" | "revision" | "files" | "runtime";

/** The field an API error names ("files.2" → files), so its message shows where it belongs. */
function fieldOf(param: string | null): FieldName | null {
  const head = param?.split(".")[0];
  return head === "repo" || head === "name" || head === "revision" || head === "files" || head === "runtime" ? head : null;
}

function Field({ label, name, error, hint, children }: { label: string; name: FieldName; error: string | null; hint?: string; children: (props: { id: string; "aria-invalid"?: true; "aria-describedby"?: string; name: string }) => ReactNode }) {
  const id = useId();
  const described = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, name, ...(error ? { "aria-invalid": true as const } : {}), ...(described ? { "aria-describedby": described } : {}) })}
      {hint ? <small id={`${id}-hint`}>{hint}</small> : null}
      {error ? (
        <small id={`${id}-error`} className="field-error">
          {error}
        </small>
      ) : null}
    </div>
  );
}

/**
 * Registers a model. The gateway validates; its message shows at the field it names (a repo id
 * without an org, a file pattern that escapes the repo, a name already taken).
 */
export function RegisterModelForm({ onRegistered }: { onRegistered: (record: ModelRecord) => void }) {
  const [repo, setRepo] = useState("");
  const [name, setName] = useState("");
  const [revision, setRevision] = useState("");
  const [files, setFiles] = useState("");
  const [runtime, setRuntime] = useState("");
  const register = useMutation({
    mutationFn: (body: RegisterModelRequest) => callJson<ModelRecord>("/api/models", { json: body }),
    onSuccess: (record) => {
      setRepo("");
      setName("");
      setRevision("");
      setFiles("");
      setRuntime("");
      onRegistered(record);
    },
  });
  const error = register.error instanceof ApiError ? register.error : null;
  const errorAt = (field: FieldName) => (error && fieldOf(error.param) === field ? error.message : null);
  const formError = register.error && (!error || fieldOf(error.param) === null) ? register.error.message : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body: RegisterModelRequest = {
      repo: repo.trim(),
      files: files
        .split(/[\n,]/)
        .map((f) => f.trim())
        .filter(Boolean),
    };
    if (name.trim()) body.name = name.trim();
    if (revision.trim()) body.revision = revision.trim();
    if (runtime) body.runtime = runtime as RegisterModelRequest["runtime"];
    register.mutate(body);
  };

  return (
    <form onSubmit={submit} aria-label="Register a model" noValidate>
      <div className="grid">
        <Field label="Hugging Face repo" name="repo" error={errorAt("repo")} hint="org/name, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF">
          {(p) => <input {...p} value={repo} onChange={(e) => setRepo(e.target.value)} required autoComplete="off" spellCheck={false} />}
        </Field>
        <Field label="Name (optional)" name="name" error={errorAt("name")} hint="What clients send as model; default: the repo id">
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" spellCheck={false} />}
        </Field>
      </div>
      <div className="grid">
        <Field label="Files (optional)" name="files" error={errorAt("files")} hint="Paths or globs, one per line; empty lets the runtime choose">
          {(p) => <textarea {...p} rows={2} value={files} onChange={(e) => setFiles(e.target.value)} spellCheck={false} />}
        </Field>
        <div>
          <Field label="Runtime" name="runtime" error={errorAt("runtime")}>
            {(p) => (
              <select {...p} value={runtime} onChange={(e) => setRuntime(e.target.value)}>
                {RUNTIMES.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Revision (optional)" name="revision" error={errorAt("revision")} hint="Branch, tag or commit; default main">
            {(p) => <input {...p} value={revision} onChange={(e) => setRevision(e.target.value)} autoComplete="off" spellCheck={false} />}
          </Field>
        </div>
      </div>
      {formError ? (
        <p className="error-note" role="alert">
          {formError}
        </p>
      ) : null}
      <button type="submit" aria-busy={register.isPending} disabled={register.isPending}>
        Register
      </button>
    </form>
  );
}
