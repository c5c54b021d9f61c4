import { randomUUID } from '../linux/random';

/**
 * The request id the dyno gets: the client's X-Request-Id when it is 20 to 200
 * characters of [A-Za-z0-9+/=-] (Heroku's rule), else a new UUID.
 */
export function requestId(fromClient: string): string {
  return validRequestId(fromClient) ? fromClient : randomUUID();
}

export function validRequestId(id: string): boolean {
  const n = id.length;
  if (n < 20 || n > 200) return false;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61 || c === 45;
    if (!ok) return false;
  }
  return true;
}
