/**
 * Log fields that never reach a log line, as pino `redact` paths: credentials in headers and every
 * field named like a secret, at the top level or one level down. Both apps log with these.
 */
export const REDACTED_LOG_PATHS: readonly string[] = [
  "headers.authorization",
  "req.headers.authorization",
  ...["authorization", "token", "secret", "node_secret", "key", "api_key", "admin_key", "node_token"].flatMap((field) => [
    field,
    `*.${field}`,
  ]),
];
