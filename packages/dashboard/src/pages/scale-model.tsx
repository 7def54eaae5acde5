import { useMutation } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import type { ModelListEntry, ModelRecord, PatchModelRequest } from "@omnigate/shared/models";
import { callJson, modelApiPath } from "../api/client.js";

/** Scale: PATCH the model's replicas; the card follows the placement through the event stream. */
export function ScaleModel({ model }: { model: ModelListEntry }) {
  const [replicas, setReplicas] = useState(String(model.replicas.desired));
  const errorId = useId();
  const scale = useMutation({
    mutationFn: (body: PatchModelRequest) => callJson<ModelRecord>(modelApiPath(model.id), { method: "PATCH", json: body }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const typed = replicas.trim();
    scale.mutate({ replicas: (typed === "all" ? "all" : Number(typed)) as PatchModelRequest["replicas"] });
  };
  return (
    <form className="scale" onSubmit={submit} aria-label={`Scale ${model.id}`}>
      <fieldset role="group">
        <label htmlFor={`${errorId}-input`} className="visually-hidden">
          Replicas of {model.id}
        </label>
        <input
          id={`${errorId}-input`}
          value={replicas}
          onChange={(e) => setReplicas(e.target.value)}
          inputMode="numeric"
          aria-invalid={scale.error ? true : undefined}
          aria-describedby={scale.error ? errorId : undefined}
        />
        <button type="submit" className="secondary" aria-busy={scale.isPending} disabled={scale.isPending}>
          Scale
        </button>
      </fieldset>
      {scale.error ? (
        <small id={errorId} className="field-error">
          {scale.error.message}
        </small>
      ) : null}
    </form>
  );
}
