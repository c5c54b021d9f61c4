// OCI lifecycle hooks run in the runtime's namespaces: the hook's path with its
// args (args[0] is its argv[0]) and env, the container's state JSON on stdin, killed
// at its timeout. A failure is returned, never thrown: what it means depends on the
// hook (prestart/createRuntime stop the create; poststart/poststop only warn).
import { spawn } from 'node:child_process';
import type { StoredHook } from './state';

export async function runHook(hook: StoredHook, state: Record<string, unknown>): Promise<string | null> {
  const [argv0, ...rest] = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  return new Promise((resolve) => {
    let settled = false;
    const done = (err: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(err);
    };
    const child = spawn(hook.path, rest, { argv0, env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-1000)));
    child.stdin.on('error', () => {}); // a hook that does not read its stdin
    child.stdin.end(JSON.stringify(state));
    const timer = hook.timeout ? setTimeout(() => { child.kill('SIGKILL'); done(`hook ${hook.path}: timed out after ${hook.timeout} s`); }, hook.timeout * 1000) : undefined;
    child.on('error', (e: NodeJS.ErrnoException) => done(`hook ${hook.path}: ${e.code ?? e.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) done(null);
      else done(`hook ${hook.path}: ${signal ? `killed by ${signal}` : `exit status ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`);
    });
  });
}

/** Runs hooks in order; the first failure stops the rest and is returned. */
export async function runHooks(hooks: StoredHook[], state: Record<string, unknown>): Promise<string | null> {
  for (const h of hooks) {
    const err = await runHook(h, state);
    if (err) return err;
  }
  return null;
}
