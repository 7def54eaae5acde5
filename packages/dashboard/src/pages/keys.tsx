import { useMutation } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import type { ApiKeyView, CreatedApiKey } from "@omnigate/shared/admin";
import { ApiError, callJson } from "../api/client.js";
import { useKeys } from "../api/live.js";
import { ConfirmDialog } from "../components/confirm-dialog.js";
import { CopyButton } from "../components/copy-button.js";
import { ErrorNote } from "../components/error-note.js";
import { PageTitle } from "./page-title.js";

const date = (unixSeconds: number) => new Date(unixSeconds * 1000).toLocaleString();

/** Client API keys: create (the key is shown this once), list, revoke. */
export function Keys() {
  const keys = useKeys();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKeyView | null>(null);
  const nameError = useId();
  const create = useMutation({
    mutationFn: (keyName: string) => callJson<CreatedApiKey>("/api/keys", { json: { name: keyName } }),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => callJson<ApiKeyView>(`/api/keys/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSuccess: () => setRevoking(null),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    create.mutate(name.trim());
  };
  const fieldError = create.error instanceof ApiError ? create.error.message : null;
  const list = [...(keys.data ?? [])].sort((a, b) => b.created_at - a.created_at || a.name.localeCompare(b.name));

  return (
    <>
      <PageTitle title="API keys" />
      <form onSubmit={submit} aria-labelledby="create-key" noValidate>
        <h2 id="create-key">Create a client key</h2>
        <fieldset role="group">
          <label htmlFor="key-name" className="visually-hidden">
            What the key is for
          </label>
          <input
            id="key-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="What it is for, e.g. chat-app"
            aria-invalid={fieldError ? true : undefined}
            aria-describedby={fieldError ? nameError : undefined}
            autoComplete="off"
          />
          <button type="submit" aria-busy={create.isPending} disabled={create.isPending}>
            Create key
          </button>
        </fieldset>
        {fieldError ? (
          <small id={nameError} className="field-error">
            {fieldError}
          </small>
        ) : null}
      </form>
      {created ? (
        <article className="new-key" aria-labelledby="new-key-title">
          <h2 id="new-key-title">Key “{created.name}” created</h2>
          <p>Copy it now: it is not shown again. Clients send it as <code>Authorization: Bearer …</code>.</p>
          <div role="group" className="key-row">
            <input readOnly value={created.key} aria-label={`The new key for ${created.name}`} onFocus={(e) => e.target.select()} spellCheck={false} />
            <CopyButton text={created.key} label="Copy key" />
          </div>
        </article>
      ) : null}
      <ErrorNote error={keys.error} />
      <table className="keys">
        <caption>Client keys</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Prefix</th>
            <th scope="col">Created</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.length === 0 ? (
            <tr>
              <td colSpan={5}>No client key yet.</td>
            </tr>
          ) : null}
          {list.map((k) => (
            <tr key={k.id}>
              <td data-label="Name">{k.name}</td>
              <td data-label="Prefix">
                <code>{k.prefix}…</code>
              </td>
              <td data-label="Created">{date(k.created_at)}</td>
              <td data-label="Status">{k.revoked_at === null ? "active" : `revoked ${date(k.revoked_at)}`}</td>
              <td>
                {k.revoked_at === null ? (
                  <button type="button" className="secondary outline" onClick={() => setRevoking(k)}>
                    Revoke {k.name}
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? ""}?`}
        confirmLabel="Revoke"
        busy={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate(revoking.id)}
        onCancel={() => {
          setRevoking(null);
          revoke.reset();
        }}
      >
        <p>Requests with this key get 401 from now on. This cannot be undone.</p>
        <ErrorNote error={revoke.error} />
      </ConfirmDialog>
    </>
  );
}
