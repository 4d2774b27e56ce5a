/**
 * A one-line, secret-free description of an unknown error (its name and message, never its
 * stack or cause), for logs, health details and wrapped errors across the client.
 */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
