import { useSyncExternalStore } from "react";

/**
 * The admin key, typed once per tab: sessionStorage (gone when the tab closes, never sent by the
 * browser on its own, unlike a cookie, so there is no CSRF to defend against). Requests carry it as
 * a Bearer header.
 */
const STORAGE_KEY = "omnigate.adminKey";
const listeners = new Set<() => void>();

export function adminKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function signIn(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
  for (const l of listeners) l();
}

/** `reason` is shown on the sign-in page (a key that stopped working). */
export function signOut(reason?: string): void {
  sessionStorage.removeItem(STORAGE_KEY);
  signOutReason = reason ?? null;
  for (const l of listeners) l();
}

let signOutReason: string | null = null;

export function lastSignOutReason(): string | null {
  return signOutReason;
}

export function useAdminKey(): string | null {
  return useSyncExternalStore(
    (onChange) => {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    adminKey,
  );
}
