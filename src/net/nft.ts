import { spawn } from 'node:child_process';
import { DynodError } from '../errors';

/** dynod's own nftables table: it never touches another. */
export const NFT_TABLE = 'inet dynod';

export interface RulesetInput {
  bridge: string;
  /** the bridge's address: the dynos' gateway */
  gateway: string;
  /** the dynos' range, a.b.c.d/N */
  range: string;
  /**
   * dynod turned IPv4 forwarding on: nothing but the dynos' traffic may be routed
   * then, so the host does not start forwarding for anyone else.
   */
  forwardingOwned: boolean;
}

/**
 * The whole table, replaced in one transaction (add, flush, define: atomic, and
 * idempotent). What it says:
 * - input from the bridge (a dyno to any address of the host): only replies to
 *   what the host itself opened; TCP gets a reset, the rest port-unreachable, so
 *   a dyno's connect() is refused at once rather than left to time out;
 * - prerouting: dyno → another address of the range refused (admin-prohibited:
 *   EHOSTUNREACH at once) before the routing decision, which would answer with an
 *   ICMP redirect to the other dyno (and use up the ICMP budget for that dyno);
 * - forwarding: dyno → dyno refused again, dyno → out allowed from the range's own
 *   addresses (no spoofing, no IPv6), out → dyno only as replies;
 * - postrouting: the range masqueraded behind the host's outgoing address.
 */
export function egressRuleset(i: RulesetInput): string {
  const br = JSON.stringify(i.bridge);
  return [
    `table ${NFT_TABLE} {}`,
    `flush table ${NFT_TABLE}`,
    `table ${NFT_TABLE} {`,
    '  chain prerouting {',
    '    type filter hook prerouting priority filter; policy accept;',
    `    iifname ${br} ip daddr ${i.range} ip daddr != ${i.gateway} reject with icmpx type admin-prohibited`,
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    iifname ${br} ct state established,related accept`,
    `    iifname ${br} meta l4proto tcp reject with tcp reset`,
    `    iifname ${br} reject with icmpx type port-unreachable`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname ${br} oifname ${br} reject with icmpx type admin-prohibited`,
    `    iifname ${br} meta nfproto != ipv4 drop`,
    `    iifname ${br} ip saddr != ${i.range} drop`,
    `    iifname ${br} accept`,
    `    oifname ${br} ct state established,related accept`,
    `    oifname ${br} drop`,
    ...(i.forwardingOwned ? ['    meta nfproto ipv4 drop'] : []),
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${i.range} oifname != ${br} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Deletes the table if it exists (declaring it first makes the delete idempotent). */
export function deleteRuleset(): string {
  return `table ${NFT_TABLE} {}\ndelete table ${NFT_TABLE}\n`;
}

/** Runs `nft -f -` with the script on stdin. */
export function runNft(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new DynodError('network: nft not found: egress for --net private needs nftables (Debian/Ubuntu package nftables); or run with --net none', { step: 'network: nftables', code: 'ENOENT', syscall: 'exec' })
          : DynodError.from(e, 'network: nftables'),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new DynodError(`network: nft -f failed (exit ${code}): ${stderr.trim().split('\n').slice(0, 3).join(' | ')}`, { step: 'network: nftables', detail: stderr.trim() }));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(script);
  });
}
