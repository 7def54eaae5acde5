import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import type { DeleteModelResponse, ModelListEntry, ModelNodeView } from "@omnigate/shared/models";
import { callJson, modelPath } from "../api/client.js";
import { useModels, useNodes } from "../api/live.js";
import { ConfirmDialog } from "../components/confirm-dialog.js";
import { DownloadProgress } from "../components/download-progress.js";
import { ErrorNote } from "../components/error-note.js";
import { StateBadge } from "../components/state-badge.js";
import { formatMib, shortId } from "../format.js";
import { PageTitle } from "./page-title.js";
import { RegisterModelForm } from "./register-model-form.js";
import { ScaleModel } from "./scale-model.js";

/** Registered models, each node's state for each (live), registering and deleting. */
export function Models() {
  const models = useModels();
  const nodes = useNodes();
  const [notice, setNotice] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const hostnames = new Map((nodes.data ?? []).map((n) => [n.runtime_id, n.hostname]));
  const remove = useMutation({
    mutationFn: (name: string) => callJson<DeleteModelResponse>(modelPath(name), { method: "DELETE" }),
    onSuccess: (res) => {
      const deferred = res.nodes.filter((n) => n.outcome === "deferred").length;
      setNotice(`Deleted ${res.id}${deferred ? `; ${deferred} node(s) not reached delete it at their next heartbeat` : ""}.`);
      setDeleting(null);
    },
  });

  return (
    <>
      <PageTitle title="Models" />
      <details className="register" open={models.data?.length === 0 ? true : undefined}>
        <summary role="button" className="outline">
          Register a model
        </summary>
        <RegisterModelForm onRegistered={(r) => setNotice(`Registered ${r.name} (${r.runtime}); the nodes that run ${r.runtime} are pulling it.`)} />
      </details>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorNote error={models.error} />
      {models.data?.length === 0 ? <p>No model is registered yet.</p> : null}
      {(models.data ?? []).map((m) => (
        <ModelCard key={m.id} model={m} hostnames={hostnames} onDelete={() => setDeleting(m.id)} />
      ))}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting ?? ""}?`}
        confirmLabel="Delete"
        busy={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onCancel={() => {
          setDeleting(null);
          remove.reset();
        }}
      >
        <p>Every node stops its engine and drops its copy. Clients asking for it get 404 until it is registered again.</p>
        <ErrorNote error={remove.error} />
      </ConfirmDialog>
    </>
  );
}

/** Past this many nodes a model's card counts states and lists only the nodes that need a look. */
const LISTED_NODES = 12;
/** Failures first, then work in progress, then what is fine. */
const ATTENTION: Record<ModelNodeView["state"], number> = { failed: 0, downloading: 1, verifying: 2, starting: 3, pending: 4, deleting: 5, ready: 6 };

function ModelCard({ model, hostnames, onDelete }: { model: ModelListEntry; hostnames: Map<string, string>; onDelete: () => void }) {
  const many = model.nodes.length > LISTED_NODES;
  const listed = many ? [...model.nodes].sort((a, b) => ATTENTION[a.state] - ATTENTION[b.state]).slice(0, LISTED_NODES) : model.nodes;
  const counts = new Map<string, number>();
  for (const n of model.nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  return (
    <article className="model" aria-labelledby={`model-${model.id}`}>
      <header>
        <h2 id={`model-${model.id}`}>{model.id}</h2>
        <StateBadge state={model.ready ? "ready" : model.nodes.length && model.nodes.every((n) => n.state === "failed") ? "failed" : "pending"} />
        <small>
          {model.repo}@{model.revision} · {model.runtime} · {model.capabilities.join(", ")} · replicas {model.replicas.ready} ready / {model.replicas.placed} placed /{" "}
          {model.replicas.desired} wanted · {model.memory_mib === null ? "memory estimate pending" : `${formatMib(model.memory_mib)} each`}
          {Object.keys(model.node_selector).length ? ` · on ${Object.entries(model.node_selector).map(([k, v]) => `${k}=${v}`).join(", ")}` : ""}
        </small>
        <span className="actions">
          <button type="button" className="secondary outline" onClick={onDelete}>
            Delete {model.id}
          </button>
        </span>
      </header>
      {model.placement_errors.length ? (
        <ul className="warning" aria-label={`Why ${model.id} is not fully placed`}>
          {model.placement_errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      ) : null}
      {model.nodes.length === 0 && !model.placement_errors.length ? <p>Placed on no node.</p> : null}
      {many ? (
        <p>
          {[...counts].map(([state, n]) => `${n} ${state}`).join(" · ")}. The {LISTED_NODES} that most need a look:
        </p>
      ) : null}
      <ul className="model-nodes">
        {listed.map((n) => {
          const host = hostnames.get(n.runtime_id) ?? "";
          return (
            <li key={n.runtime_id}>
              <span>
                {host} <code>{shortId(n.runtime_id)}</code>
              </span>{" "}
              <StateBadge state={n.state} />
              {n.leaving ? <StateBadge state="leaving" /> : null}
              {n.state === "downloading" && n.progress ? <DownloadProgress progress={n.progress} label={`${model.id} download on ${host || shortId(n.runtime_id)}`} /> : null}
              {n.error ? <pre className="failure">{n.error}</pre> : null}
            </li>
          );
        })}
      </ul>
      <ScaleModel model={model} />
    </article>
  );
}
