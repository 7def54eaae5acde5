import { useEffect, useRef, type ReactNode } from "react";

interface ConfirmDialogProps {
  readonly open: boolean;
  readonly title: string;
  readonly children: ReactNode;
  readonly confirmLabel: string;
  readonly busy?: boolean;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
}

/**
 * A modal confirmation on the native <dialog>: the browser traps focus inside, Escape cancels, and
 * focus goes back where it was. The safe choice (Cancel) has the focus first.
 */
export function ConfirmDialog({ open, title, children, confirmLabel, busy, onConfirm, onCancel }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} onCancel={(e) => (e.preventDefault(), onCancel())} aria-labelledby="confirm-title">
      <article>
        <h2 id="confirm-title">{title}</h2>
        {children}
        <footer>
          <button type="button" className="secondary" onClick={onCancel} autoFocus>
            Cancel
          </button>
          <button type="button" className="danger" onClick={onConfirm} aria-busy={busy} disabled={busy}>
            {confirmLabel}
          </button>
        </footer>
      </article>
    </dialog>
  );
}
