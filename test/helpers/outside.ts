// "The outside" for egress tests: a network namespace this test makes, joined to the
// host by a veth with documentation addresses (198.51.100.0/24, TEST-NET-2), serving
// HTTP and DNS. Nothing here sends a packet anywhere else: the route to the outside
// is checked to be the test's own veth before any server starts.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const OUTSIDE_NET = '198.51.100';

export interface Outside {
  ns: string;
  /** the host's end of the link (what NAT makes every dyno look like) */
  hostAddress: string;
  /** the outside's address: HTTP on httpPort, DNS on 53 */
  address: string;
  httpPort: number;
  /** a resolv.conf naming the outside's DNS server (for DYNOD_RESOLV_CONF) */
  resolvConf: string;
  /** names the outside's DNS answers */
  names: Record<string, string>;
  /** queries the DNS server answered, in order */
  queries: string[];
  close(): Promise<void>;
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Starts a node script (as an argv) in ns and waits for its "ready" line. */
function serve(ns: string | null, argv: string[], onLine: (l: string) => void = () => {}): Promise<ChildProcess> {
  const cmd = ns ? ['ip', 'netns', 'exec', ns, process.execPath, ...argv] : [process.execPath, ...argv];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env });
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (l) => (l === 'ready' ? resolve(child) : onLine(l)));
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited (${code}) before it was ready`)));
  });
}

const HTTP_SERVER = `
const http = require('node:http');
http.createServer((q, s) => s.end('hello from outside, you are ' + q.socket.remoteAddress + '\\n')).listen(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
`;

export const DNS_SERVER = path.join(__dirname, 'dns-server.js');

/** A DNS server of the test's own on the host (a loopback address), like systemd-resolved's 127.0.0.53. */
export async function loopbackDns(address: string, names: Record<string, string>): Promise<{ queries: string[]; close(): Promise<void> }> {
  const queries: string[] = [];
  const child = await serve(null, [DNS_SERVER, address, '53', ...Object.entries(names).map(([n, a]) => `${n}=${a}`)], (l) => queries.push(l.replace(/^q /, '')));
  return { queries, close: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

/** Makes the outside: netns, veth, addresses, then the HTTP and DNS servers in it. */
export async function makeOutside(): Promise<Outside> {
  const tag = crypto.randomBytes(3).toString('hex');
  const ns = `dynod-test-out-${tag}`;
  const hostIf = `dto${tag}`;
  const hostAddress = `${OUTSIDE_NET}.1`;
  const address = `${OUTSIDE_NET}.2`;
  const children: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-outside-'));
  const cleanup = async () => {
    await Promise.all(children.map(stop));
    try { ip('link', 'del', hostIf); } catch { /* gone with the namespace */ }
    try { ip('netns', 'del', ns); } catch { /* never made */ }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', `${hostAddress}/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    // The one check that keeps every packet of these tests on this machine.
    const route = ip('route', 'get', address);
    if (!route.includes(` dev ${hostIf} `)) throw new Error(`the route to ${address} is not the test's link ${hostIf}: ${route}`);
    const names = { 'outside.test': address, 'api.outside.test': address };
    const queries: string[] = [];
    children.push(await serve(ns, ['-e', HTTP_SERVER, address, '8080']));
    children.push(await serve(ns, [DNS_SERVER, address, '53', ...Object.entries(names).map(([n, a]) => `${n}=${a}`)], (l) => queries.push(l.replace(/^q /, ''))));
    const resolvConf = path.join(dir, 'resolv.conf');
    fs.writeFileSync(resolvConf, `nameserver ${address}\nsearch outside.test\n`);
    return { ns, hostAddress, address, httpPort: 8080, resolvConf, names, queries, close: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The network namespaces `ip netns` knows. */
export function netnsList(): string[] {
  return ip('netns', 'list').split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}
