import { useId, useState, type FormEvent } from "react";
import { call } from "../api/client.js";
import { lastSignOutReason, signIn } from "../api/session.js";

/**
 * The admin key, typed once: checked against the gateway before it is kept, so a wrong key says so
 * here rather than as failures on every page.
 */
export function SignIn() {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(lastSignOutReason());
  const [busy, setBusy] = useState(false);
  const errorId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const typed = key.trim();
    if (!typed) return setError("Type the admin key.");
    setBusy(true);
    try {
      await call("/api/stats", { key: typed });
      signIn(typed);
    } catch (err) {
      const status = (err as { status?: number }).status;
      setError(
        status === 401
          ? "That key is not valid. The admin key is in admin.key in the gateway's data dir (the gateway prints where), or in OMNIGATE_ADMIN_KEY."
          : status === 403
            ? "That is a client API key. The dashboard needs the admin key."
            : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="container sign-in">
      <article>
        <header>
          <h1>omnigate</h1>
          <p>Sign in with the gateway's admin key. It stays in this tab only.</p>
        </header>
        <form onSubmit={(e) => void submit(e)} noValidate>
          <label>
            Admin key
            <input
              type="password"
              name="admin-key"
              autoComplete="current-password"
              value={key}
              onChange={(e) => setKey(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
              autoFocus
              required
            />
          </label>
          {error ? (
            <small id={errorId} className="field-error" role="alert">
              {error}
            </small>
          ) : null}
          <button type="submit" aria-busy={busy} disabled={busy}>
            Sign in
          </button>
        </form>
      </article>
    </main>
  );
}
