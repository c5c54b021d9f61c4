import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { integer, oid, time, tlv } from '../../src/router/der';
import { loadCertificate, makeSelfSigned, selfSignedCertificate } from '../../src/router/self-signed';
import { UsageError } from '../../src/errors';

// ============================================================================
// The development certificate: a small DER writer (src/router/der.ts) and the
// self-signed X.509 certificate made with it (src/router/self-signed.ts).

t.test('DER: lengths, integers, OIDs, times', async (t) => {
  t.same(tlv(0x04, Buffer.alloc(3)), Buffer.from([4, 3, 0, 0, 0]));
  t.same(tlv(0x04, Buffer.alloc(200)).subarray(0, 3), Buffer.from([4, 0x81, 200]));
  t.same(tlv(0x04, Buffer.alloc(300)).subarray(0, 4), Buffer.from([4, 0x82, 1, 44]));
  t.same(integer(2), Buffer.from([2, 1, 2]));
  t.same(integer(Buffer.from([0, 0, 0x80])), Buffer.from([2, 2, 0, 0x80]), 'a high bit gets a leading zero');
  t.same(oid('1.2.840.10045.4.3.2'), Buffer.from('06082a8648ce3d040302', 'hex'));
  t.same(oid('2.5.29.17'), Buffer.from('0603551d11', 'hex'));
  t.same(time(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), Buffer.concat([Buffer.from([0x17, 13]), Buffer.from('260102030405Z')]));
  t.same(time(new Date(Date.UTC(2051, 0, 2, 3, 4, 5))), Buffer.concat([Buffer.from([0x18, 15]), Buffer.from('20510102030405Z')]));
});

t.test('the certificate: self-signed ECDSA P-256, for localhost, 127.0.0.1 and ::1, a year', async (t) => {
  const now = new Date(Date.UTC(2026, 5, 1));
  const { cert, key } = makeSelfSigned(['localhost', '127.0.0.1', '::1'], now);
  const x = new crypto.X509Certificate(cert);
  t.equal(x.subject, 'O=dynod\nCN=dynod development certificate');
  t.equal(x.issuer, x.subject);
  t.equal(x.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  t.ok(x.verify(x.publicKey), 'signed by its own key');
  t.ok(x.checkPrivateKey(crypto.createPrivateKey(key)));
  t.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.equal(new Date(x.validFrom).getTime(), now.getTime() - 86_400_000);
  t.equal(new Date(x.validTo).getTime(), now.getTime() + 365 * 86_400_000);
  t.equal(x.ca, false);
  t.equal(x.checkHost('localhost'), 'localhost');
  t.equal(x.checkIP('::1'), '::1');
  t.equal(x.checkHost('example.com'), undefined);
  t.same(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage: server authentication');
});

t.test('openssl reads it the same way (when installed)', async (t) => {
  const has = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
  if (!has) {
    t.skip('openssl is not installed', () => {});
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-cert-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = selfSignedCertificate(dir);
  const text = spawnSync('openssl', ['x509', '-in', f.certFile, '-noout', '-text'], { encoding: 'utf8' });
  t.equal(text.status, 0, text.stderr);
  t.match(text.stdout, /Version: 3 \(0x2\)/);
  t.match(text.stdout, /Signature Algorithm: ecdsa-with-SHA256/);
  t.match(text.stdout, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  t.match(text.stdout, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
  t.match(text.stdout, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
  t.match(text.stdout, /X509v3 Subject Key Identifier/);
  const verify = spawnSync('openssl', ['verify', '-CAfile', f.certFile, f.certFile], { encoding: 'utf8' });
  t.equal(verify.stdout.trim(), `${f.certFile}: OK`, 'a trust anchor for itself');
  const key = spawnSync('openssl', ['pkey', '-in', f.keyFile, '-noout', '-text'], { encoding: 'utf8' });
  t.match(key.stdout, /ASN1 OID: prime256v1/);
});

t.test('selfSignedCertificate: made once, kept, renewed when near its end or broken', async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-cert-')), 'tls');
  t.teardown(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));
  const a = selfSignedCertificate(dir);
  t.equal(fs.statSync(dir).mode & 0o777, 0o700);
  t.equal(fs.statSync(a.keyFile).mode & 0o777, 0o600);
  t.equal(fs.statSync(a.certFile).mode & 0o777, 0o644);
  t.same(fs.readdirSync(dir).sort(), ['cert.pem', 'key.pem'], 'no temp file left');
  const b = selfSignedCertificate(dir);
  t.equal(b.cert, a.cert, 'kept');
  // one that ends in 10 days is made anew
  const old = makeSelfSigned(['localhost', '127.0.0.1', '::1'], new Date(Date.now() - 355 * 86_400_000));
  fs.writeFileSync(a.certFile, old.cert);
  fs.writeFileSync(a.keyFile, old.key);
  const c = selfSignedCertificate(dir);
  t.not(c.cert, old.cert, 'renewed 30 days before its end');
  // a key that is not the certificate's
  fs.writeFileSync(a.keyFile, makeSelfSigned(['localhost'], new Date()).key);
  const d = selfSignedCertificate(dir);
  t.not(d.cert, c.cert);
  t.ok(new crypto.X509Certificate(d.cert).checkPrivateKey(crypto.createPrivateKey(d.key)));
  fs.writeFileSync(a.certFile, 'garbage');
  t.not(selfSignedCertificate(dir).cert, 'garbage');
});

t.test('loadCertificate: clear lines for files that are not a certificate and its key', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-cert-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = selfSignedCertificate(dir);
  t.equal(loadCertificate(f.certFile, f.keyFile).cert, f.cert);
  const other = path.join(dir, 'other.pem');
  fs.writeFileSync(other, makeSelfSigned(['localhost'], new Date()).key);
  t.throws(() => loadCertificate(f.certFile, other), new UsageError(`TLS key ${other}: not the key of the certificate ${f.certFile}`));
  t.throws(() => loadCertificate(path.join(dir, 'none.pem'), f.keyFile), new UsageError(`TLS certificate ${path.join(dir, 'none.pem')}: ENOENT; accepted a readable PEM file`));
  t.throws(() => loadCertificate(f.keyFile, f.keyFile), { name: 'UsageError', message: /^TLS certificate .*key\.pem: .*; accepted a PEM certificate \(-----BEGIN CERTIFICATE-----\)$/ });
  t.throws(() => loadCertificate(f.certFile, f.certFile), { name: 'UsageError', message: /^TLS key .*cert\.pem: .*; accepted an unencrypted PEM private key$/ });
});
