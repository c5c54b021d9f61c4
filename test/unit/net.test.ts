import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { capacityOf, checkAgainstRoutes, dynoAddress, gatewayOf, hostRoutes, ipToString, overlaps, parseRange } from '../../src/net/cidr';
import { dynoResolvConf, parseResolvConf } from '../../src/net/resolv';
import { deleteRuleset, egressRuleset } from '../../src/net/nft';

t.test('parseRange: a.b.c.d/N with N 8..28 and no host bits', async (t) => {
  const r = parseRange('10.213.0.0/16', 'DYNOD_NET_RANGE');
  t.same(r, { network: 0x0ad50000, prefix: 16, text: '10.213.0.0/16' });
  t.equal(ipToString(gatewayOf(r)), '10.213.0.1');
  t.equal(ipToString(dynoAddress(r, 0)), '10.213.0.2');
  t.equal(ipToString(dynoAddress(r, capacityOf(r) - 1)), '10.213.255.254', 'the last one before the broadcast');
  t.equal(capacityOf(parseRange('192.168.7.0/28', 'x')), 13);
  for (const bad of ['10.213.0.0', '10.213.0.0/7', '10.213.0.0/29', '256.1.1.1/16', 'a.b.c.d/16', ''])
    t.throws(() => parseRange(bad, 'DYNOD_NET_RANGE'), { name: 'UsageError', message: /^DYNOD_NET_RANGE ".*": expected an IPv4 network a\.b\.c\.d\/N with N from 8 to 28, e\.g\. 10\.213\.0\.0\/16$/ }, bad);
  t.throws(() => parseRange('10.213.1.0/16', 'network range'), { name: 'UsageError', message: 'network range 10.213.1.0/16: the address has host bits set; the network is 10.213.0.0/16' });
  // addresses that do not route as unicast
  for (const [bad, what] of [['127.213.0.0/16', 'loopback'], ['224.0.0.0/8', 'multicast'], ['0.0.0.0/8', '"this network"'], ['240.0.0.0/8', 'reserved'], ['255.255.255.0/24', 'reserved'], ['169.254.0.0/16', 'link-local']])
    t.throws(() => parseRange(bad, 'DYNOD_NET_RANGE'), { name: 'UsageError', message: new RegExp(`^DYNOD_NET_RANGE ${bad.replace(/\./g, '\\.')}: overlaps .*${what}.*; use a private range`) }, bad);
  t.equal(parseRange('100.64.0.0/16', 'x').text, '100.64.0.0/16', 'shared address space is a usable choice');
});

t.test('routes: /proc/net/route read as little-endian hex; a range overlapping one (not the bridge\'s) is refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-routes-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'route');
  fs.writeFileSync(file, [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'dynod0\t0000D50A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    '',
  ].join('\n'));
  const routes = hostRoutes(file);
  t.same(routes.map((r) => r.text), ['192.0.2.0/24 dev eth0', '172.17.0.0/16 dev docker0', '10.213.0.0/16 dev dynod0'], 'the default route is left out');
  t.doesNotThrow(() => checkAgainstRoutes(parseRange('10.213.0.0/16', 'r'), routes, 'dynod0', 'r'), 'the bridge\'s own route is ours');
  t.throws(() => checkAgainstRoutes(parseRange('172.16.0.0/12', 'r'), routes, 'dynod0', 'DYNOD_NET_RANGE'), {
    message: "DYNOD_NET_RANGE 172.16.0.0/12: overlaps the host's route 172.17.0.0/16 dev docker0; choose a range no route of the host covers (e.g. another 10.x.0.0/16)",
  });
  t.ok(overlaps({ network: 0x0a000000, prefix: 8 }, { network: 0x0ad50000, prefix: 16 }));
  t.notOk(overlaps({ network: 0x0ad40000, prefix: 16 }, { network: 0x0ad50000, prefix: 16 }));
});

t.test('resolv.conf: the host\'s servers go to the forwarder, the dyno gets 127.0.0.11 with the search and options lines', async (t) => {
  const host = parseResolvConf('# systemd-resolved\nnameserver 127.0.0.53\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\noptions edns0 trust-ad\nsearch corp.example\n');
  t.same(host, { nameservers: ['127.0.0.53', 'fe80::1%eth0'], other: ['options edns0 trust-ad', 'search corp.example'] });
  t.equal(dynoResolvConf(host), 'nameserver 127.0.0.11\noptions edns0 trust-ad\nsearch corp.example\n');
  t.same(parseResolvConf('').nameservers, ['127.0.0.1'], "glibc's default when none is named");
});

t.test('the nftables table: its own, replaced whole, NAT for the range, dyno→dyno and dyno→host refused', async (t) => {
  const rs = egressRuleset({ bridge: 'dynod0', gateway: '10.213.0.1', range: '10.213.0.0/16', forwardingOwned: false });
  const lines = rs.split('\n').map((l) => l.trim());
  t.same(lines.slice(0, 3), ['table inet dynod {}', 'flush table inet dynod', 'table inet dynod {'], 'declared, flushed and defined in one transaction');
  t.notOk(/table (ip|ip6|inet) (?!dynod)/.test(rs), 'no other table is named');
  t.ok(lines.includes('iifname "dynod0" ip daddr 10.213.0.0/16 ip daddr != 10.213.0.1 reject with icmpx type admin-prohibited'), 'dyno → dyno, before routing');
  t.ok(lines.includes('iifname "dynod0" meta l4proto tcp reject with tcp reset'), 'dyno → host TCP reset');
  t.ok(lines.includes('iifname "dynod0" ip saddr != 10.213.0.0/16 drop'), 'no spoofed sources');
  t.ok(lines.includes('oifname "dynod0" drop'), 'nothing new into the dynos');
  t.ok(lines.includes('ip saddr 10.213.0.0/16 oifname != "dynod0" masquerade'));
  t.notOk(lines.includes('meta nfproto ipv4 drop'), 'the host forwarded before dynod: its forwarding is left alone');
  const owned = egressRuleset({ bridge: 'dynod0', gateway: '10.213.0.1', range: '10.213.0.0/16', forwardingOwned: true });
  t.ok(owned.split('\n').map((l) => l.trim()).includes('meta nfproto ipv4 drop'), 'dynod turned forwarding on: only the dynos are forwarded');
  t.equal(deleteRuleset(), 'table inet dynod {}\ndelete table inet dynod\n');
});
