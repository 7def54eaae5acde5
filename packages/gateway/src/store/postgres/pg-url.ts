/** What a PostgreSQL URL names, for logs and errors: never its password. */
export interface PgLocation {
  readonly host: string;
  readonly port: string;
  readonly database: string;
  readonly user: string;
  /** `postgres://user@host:port/database`. */
  readonly display: string;
}

/** Reads the parts of `postgres://user:password@host:port/database?…` that may be shown. */
export function describePgUrl(url: string): PgLocation {
  const u = new URL(url);
  // A Unix socket is given as ?host=/path (libpq's form): the URL's own host is then empty.
  const host = decodeURIComponent(u.hostname) || u.searchParams.get("host") || "localhost";
  const port = u.port || u.searchParams.get("port") || "5432";
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || decodeURIComponent(u.username) || "postgres";
  const user = decodeURIComponent(u.username) || "(default user)";
  const shownHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return { host, port, database, user, display: `postgres://${encodeURIComponent(user)}@${shownHost}:${port}/${encodeURIComponent(database)}` };
}

/** Whether a value is a PostgreSQL URL (OMNIGATE_DATABASE_URL takes nothing else). */
export function isPgUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === "postgres:" || u.protocol === "postgresql:";
  } catch {
    return false;
  }
}

/** `message` with every occurrence of the URL's password taken out (a driver error may echo the URL). */
export function withoutPassword(message: string, url: string): string {
  let password = "";
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return message;
  }
  if (!password) return message;
  return message.split(password).join("***").split(encodeURIComponent(password)).join("***");
}
