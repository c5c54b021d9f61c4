// A tiny authoritative DNS server for tests: A records from argv, NXDOMAIN for the rest,
// over UDP and TCP. Usage: node dns-server.js ADDRESS PORT name=1.2.3.4 ...
// Prints "ready" once both sockets listen; each answered query is logged as "q NAME".
'use strict';
const dgram = require('node:dgram');
const net = require('node:net');

const [address, port, ...pairs] = process.argv.slice(2);
const records = new Map(pairs.map((p) => p.split('=')).map(([n, ip]) => [n.toLowerCase().replace(/\.$/, ''), ip]));

function readName(buf, off) {
  const labels = [];
  while (buf[off] !== 0) {
    const len = buf[off];
    labels.push(buf.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: off + 1 };
}

function answer(query) {
  if (query.length < 12) return null;
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const ip = records.get(name);
  const found = ip !== undefined && qtype === 1;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, AA, RD copied; RCODE 3 (NXDOMAIN) when the name is unknown
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (ip === undefined ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(found ? 1 : 0, 6);
  const parts = [header, question];
  if (found) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
    parts.push(rr);
  }
  console.log(`q ${name}`);
  return Buffer.concat(parts);
}

const udp = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
udp.on('message', (msg, r) => {
  const a = answer(msg);
  if (a) udp.send(a, r.port, r.address);
});
const tcp = net.createServer((c) => {
  let buf = Buffer.alloc(0);
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const a = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      buf = buf.subarray(2 + buf.readUInt16BE(0));
      if (a) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        c.write(Buffer.concat([len, a]));
      }
    }
  });
  c.on('error', () => c.destroy());
});
let ready = 0;
const up = () => ++ready === 2 && console.log('ready');
udp.bind(Number(port), address, up);
tcp.listen(Number(port), address, up);
process.on('SIGTERM', () => process.exit(0));
