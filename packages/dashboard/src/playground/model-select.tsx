import { useEffect } from "react";
import type { ModelListEntry } from "@omnigate/shared/models";
import type { Capability } from "@omnigate/shared/runtimes";
import { useModels } from "../api/live.js";

/** The models with a capability, ready ones first; picks the first ready one when none is chosen. */
export function ModelSelect({ capability, value, onChange, id }: { capability: Capability; value: string; onChange: (name: string) => void; id: string }) {
  const models = useModels();
  const able: ModelListEntry[] = (models.data ?? []).filter((m) => m.capabilities.includes(capability)).sort((a, b) => Number(b.ready) - Number(a.ready) || a.id.localeCompare(b.id));
  const first = able[0]?.id;
  useEffect(() => {
    if (!value && first) onChange(first);
  }, [value, first, onChange]);
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={able.length === 0}>
      {able.length === 0 ? <option value="">no model can do this yet</option> : null}
      {able.map((m) => (
        <option key={m.id} value={m.id}>
          {m.id}
          {m.ready ? "" : " (not ready)"}
        </option>
      ))}
    </select>
  );
}
