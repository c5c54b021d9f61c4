import type { UpConn } from './upstream';

/**
 * vegur's checkin step, after a response: a connection that can carry another request
 * goes back to its dyno's pool (reading again, to notice the dyno closing it), any
 * other closes.
 */
export function checkin(up: UpConn, reusable: boolean, now: number): void {
  up.user = null;
  if (!reusable || up.closed) {
    up.destroy();
    return;
  }
  up.sock.resume();
  up.state.putIdle(up, now);
}
