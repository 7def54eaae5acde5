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

const FIELDS = ["repo", "name", "revision", "files", "runtime", "replicas", "node_selector", "resources", "placement_policy"] as const;
type FieldName = (typeof FIELDS)[number];

/** The field an API error names ("files.2" → files, "resources.memory_mib" → resources), so its message shows where it belongs. */
function fieldOf(param: string | null): FieldName | null {
  const head = param?.split(".")[0];
  return FIELDS.find((f) => f === head) ?? null;
}

/** "zone=eu, gpu=a100" → {zone: "eu", gpu: "a100"}; a pair without "=" is sent as is, for the API to name. */
function parseSelector(text: string): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const pair of text.split(/[,\n]/).map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf("=");
    selector[at < 0 ? pair : pair.slice(0, at).trim()] = at < 0 ? "" : pair.slice(at + 1).trim();
  }
  return selector;
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
  const [replicas, setReplicas] = useState("1");
  const [selector, setSelector] = useState("");
  const [memory, setMemory] = useState("");
  const [policy, setPolicy] = useState("spread");
  const register = useMutation({
    mutationFn: (body: RegisterModelRequest) => callJson<ModelRecord>("/api/models", { json: body }),
    onSuccess: (record) => {
      setRepo("");
      setName("");
      setRevision("");
      setFiles("");
      setRuntime("");
      setReplicas("1");
      setSelector("");
      setMemory("");
      setPolicy("spread");
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
    // Sent as typed: the API says what is wrong with "-1", "2.5" or "many", at the field.
    const count = replicas.trim();
    body.replicas = (count === "all" ? "all" : count === "" ? 1 : Number(count)) as RegisterModelRequest["replicas"];
    if (selector.trim()) body.node_selector = parseSelector(selector);
    if (memory.trim()) body.resources = { memory_mib: Number(memory) };
    body.placement_policy = policy as RegisterModelRequest["placement_policy"];
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
      <div className="grid">
        <Field label="Replicas" name="replicas" error={errorAt("replicas")} hint='How many nodes serve it: 0–1000, or "all"'>
          {(p) => <input {...p} value={replicas} onChange={(e) => setReplicas(e.target.value)} inputMode="numeric" autoComplete="off" />}
        </Field>
        <Field label="Node selector (optional)" name="node_selector" error={errorAt("node_selector")} hint="Labels a node must have: zone=eu, gpu=a100">
          {(p) => <input {...p} value={selector} onChange={(e) => setSelector(e.target.value)} autoComplete="off" spellCheck={false} />}
        </Field>
      </div>
      <div className="grid">
        <Field label="Memory, MiB (optional)" name="resources" error={errorAt("resources")} hint="Overrides the estimate read from the model's files">
          {(p) => <input {...p} value={memory} onChange={(e) => setMemory(e.target.value)} inputMode="numeric" autoComplete="off" />}
        </Field>
        <Field label="Placement" name="placement_policy" error={errorAt("placement_policy")}>
          {(p) => (
            <select {...p} value={policy} onChange={(e) => setPolicy(e.target.value)}>
              <option value="spread">spread: distinct nodes, least committed first</option>
              <option value="binpack">binpack: the fullest node that fits</option>
            </select>
          )}
        </Field>
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
