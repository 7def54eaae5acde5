import { memo } from "react";
import type { NodeView } from "@omnigate/shared/node-protocol";
import { StateBadge } from "../components/state-badge.js";
import { formatAge, formatMib, shortId } from "../format.js";
import { NodeActions } from "./node-actions.js";

function statusOf(node: NodeView): "online" | "offline" | "ejected" {
  if (!node.online) return "offline";
  return node.ejected_until !== null ? "ejected" : "online";
}

/** One node: status, GPUs as bars, runtimes, labels, models and engines. Re-renders only when it changed. */
export const NodeCard = memo(function NodeCard({ node }: { node: NodeView }) {
  const status = statusOf(node);
  const restarts = node.engines.reduce((n, e) => n + e.restarts, 0);
  return (
    <article className="node" aria-labelledby={`node-${node.runtime_id}`}>
      <header>
        <h2 id={`node-${node.runtime_id}`}>
          {node.hostname} <code title={node.runtime_id}>{shortId(node.runtime_id)}</code>
        </h2>
        <StateBadge state={status} />
        {node.draining ? <StateBadge state="draining" /> : node.cordoned ? <StateBadge state="cordoned" /> : null}
        <small>
          {node.online ? `up since ${formatAge(node.registered_at)}` : `last seen ${formatAge(node.last_seen)}`} · agent {node.version}
        </small>
      </header>
      {status === "ejected" && node.ejected_until !== null ? (
        <p className="warning">
          Ejected until {new Date(node.ejected_until).toLocaleTimeString()}: {node.ejection_reason ?? "too many failed requests"}
        </p>
      ) : null}
      <div className="node-body">
        <section aria-label="GPUs">
          {node.capacity_mib !== null ? (
            <div className="gpu">
              <small>
                Committed to placed models: {formatMib(node.committed_mib)} of {formatMib(node.capacity_mib)}
              </small>
              <progress value={node.committed_mib} max={node.capacity_mib || 1} aria-label="Memory committed to placed models" />
            </div>
          ) : null}
          {node.gpus.length === 0 ? <small>No GPU reported</small> : null}
          {node.gpus.map((gpu) => (
            <div key={gpu.index} className="gpu">
              <small>
                GPU {gpu.index} {gpu.name}: {formatMib(gpu.memory_used_mib)} used of {formatMib(gpu.memory_total_mib)}
              </small>
              <progress value={gpu.memory_used_mib} max={gpu.memory_total_mib || 1} aria-label={`GPU ${gpu.index} memory used`} />
            </div>
          ))}
        </section>
        <section aria-label="Runtimes and labels">
          <small>
            Runtimes: {node.supported_runtimes.length ? node.supported_runtimes.join(", ") : "none (no engine found)"}
          </small>
          {Object.keys(node.labels).length ? (
            <ul className="chips" aria-label="Labels">
              {Object.entries(node.labels).map(([k, v]) => (
                <li key={k}>
                  {k}={v}
                </li>
              ))}
            </ul>
          ) : null}
        </section>
        <section aria-label="Models">
          {node.models.length === 0 ? <small>No model assigned</small> : null}
          <ul className="node-models">
            {node.models.map((m) => (
              <li key={m.name}>
                <span>{m.name}</span> <StateBadge state={m.state} />
                {m.progress && m.state === "downloading" ? <small> {m.progress.percent.toFixed(0)}%</small> : null}
                {m.state === "failed" && m.error ? <small className="pre"> {m.error}</small> : null}
              </li>
            ))}
          </ul>
          {restarts > 0 ? <small>Engine restarts: {restarts}</small> : null}
        </section>
      </div>
      <NodeActions node={node} />
    </article>
  );
});
