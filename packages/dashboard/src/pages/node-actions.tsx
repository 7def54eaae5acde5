import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import type { NodeView } from "@omnigate/shared/node-protocol";
import { callJson } from "../api/client.js";
import { ConfirmDialog } from "../components/confirm-dialog.js";
import { ErrorNote } from "../components/error-note.js";

type Action = "cordon" | "uncordon" | "drain";

/**
 * Cordon (no new placements), uncordon (back in service; a drain stops) and drain (move every
 * replica elsewhere, each removed once its replacement is ready). Drain asks first. The card
 * updates from the event stream, not from the answer.
 */
export function NodeActions({ node }: { node: NodeView }) {
  const [confirming, setConfirming] = useState(false);
  const act = useMutation({
    mutationFn: (action: Action) => callJson<NodeView>(`/api/nodes/${encodeURIComponent(node.runtime_id)}/${action}`, { method: "POST" }),
    onSuccess: () => setConfirming(false),
  });
  const name = node.hostname;
  return (
    <div className="node-actions" role="group" aria-label={`Actions for ${name}`}>
      {node.cordoned ? (
        <button type="button" className="secondary outline" onClick={() => act.mutate("uncordon")} disabled={act.isPending}>
          Uncordon {name}
        </button>
      ) : (
        <button type="button" className="secondary outline" onClick={() => act.mutate("cordon")} disabled={act.isPending}>
          Cordon {name}
        </button>
      )}
      {node.draining ? null : (
        <button type="button" className="secondary outline" onClick={() => setConfirming(true)} disabled={act.isPending}>
          Drain {name}
        </button>
      )}
      {/* Mounted only while asked: a closed dialog per card would be DOM built for every card scrolled past. */}
      {confirming ? (
        <ConfirmDialog
          open
          title={`Drain ${name}?`}
          confirmLabel="Drain"
          busy={act.isPending}
          onConfirm={() => act.mutate("drain")}
          onCancel={() => {
            setConfirming(false);
            act.reset();
          }}
        >
          <p>
            No new model goes to it, and each of its {node.placed_models.length} replica(s) moves to another node: the copy here is removed only once
            the new one is ready and its requests have finished. Uncordon to stop.
          </p>
          <ErrorNote error={act.error} />
        </ConfirmDialog>
      ) : (
        <ErrorNote error={act.error} />
      )}
    </div>
  );
}
