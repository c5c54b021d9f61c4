import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { UsageError } from '../errors';
import { bitString, boolean, explicit, integer, octetString, oid, sequence, set, time, tlv, utf8String } from './der';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  /** PEM */
  cert: string;
  key: string;
}

const NAMES = ['localhost', '127.0.0.1', '::1'];
const VALID_DAYS = 365;
/** a kept certificate this close to its end is made anew */
const RENEW_DAYS = 30;
const DAY = 86_400_000;

/**
 * A certificate for local development (`--tls self-signed`), made once and kept in
 * dir (cert.pem, and key.pem with mode 0600): ECDSA P-256, for localhost, 127.0.0.1 and
 * ::1, a year long. A kept one is used again while it is valid for 30 more days,
 * matches its key and covers those names; otherwise a new one replaces it.
 */
export function selfSignedCertificate(dir: string): CertificateFiles {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const kept = reuse(certFile, keyFile);
  if (kept !== null) return kept;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { cert, key } = makeSelfSigned(NAMES, new Date());
  writeReplacing(keyFile, key, 0o600);
  writeReplacing(certFile, cert, 0o644);
  return { certFile, keyFile, cert, key };
}

/** A TLS certificate and key from files (`--tls-cert`, `--tls-key`), checked to be PEM and to match. */
export function loadCertificate(certFile: string, keyFile: string): CertificateFiles {
  const cert = readText(certFile, 'TLS certificate');
  const key = readText(keyFile, 'TLS key');
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(cert);
  } catch (e) {
    throw new UsageError(`TLS certificate ${certFile}: ${(e as Error).message}; accepted a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  let k: crypto.KeyObject;
  try {
    k = crypto.createPrivateKey(key);
  } catch (e) {
    throw new UsageError(`TLS key ${keyFile}: ${(e as Error).message}; accepted an unencrypted PEM private key`);
  }
  if (!x509.checkPrivateKey(k)) throw new UsageError(`TLS key ${keyFile}: not the key of the certificate ${certFile}`);
  return { certFile, keyFile, cert, key };
}

/** A self-signed certificate for these DNS names and IP addresses, valid from `now` for a year. */
export function makeSelfSigned(names: readonly string[], now: Date): { cert: string; key: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'));
  const name = sequence(set(sequence(oid('2.5.4.10'), utf8String('dynod'))), set(sequence(oid('2.5.4.3'), utf8String('dynod development certificate'))));
  const serial = crypto.randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const altNames = names.map((n) => (net.isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'latin1'))));
  // the key's own hash as its identifier (RFC 5280 §4.2.1.2, method 1)
  const keyBits = spkiKeyBits(spki);
  const extensions = sequence(
    extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
    extension('2.5.29.17', false, sequence(...altNames)),
    extension('2.5.29.14', false, octetString(crypto.createHash('sha1').update(keyBits).digest())),
  );
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serial),
    ecdsaWithSha256,
    name,
    sequence(time(new Date(now.getTime() - DAY)), time(new Date(now.getTime() + VALID_DAYS * DAY))),
    name,
    spki,
    explicit(3, extensions),
  );
  const signature = crypto.sign('sha256', tbs, privateKey);
  const der = sequence(tbs, ecdsaWithSha256, bitString(signature));
  return {
    cert: pem('CERTIFICATE', der),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // expand :: into the missing groups of zeros (no embedded IPv4 form here)
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** the subjectPublicKey BIT STRING's bytes inside a DER SubjectPublicKeyInfo */
function spkiKeyBits(spki: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier SEQUENCE, BIT STRING }: skip the outer header and the first element
  let i = headerLength(spki, 0);
  i += headerLength(spki, i) + contentLength(spki, i);
  return spki.subarray(i + headerLength(spki, i) + 1);
}

function headerLength(b: Buffer, at: number): number {
  const l = b[at + 1]!;
  return l < 0x80 ? 2 : 2 + (l & 0x7f);
}

function contentLength(b: Buffer, at: number): number {
  const l = b[at + 1]!;
  if (l < 0x80) return l;
  let n = 0;
  for (let i = 0; i < (l & 0x7f); i++) n = n * 256 + b[at + 2 + i]!;
  return n;
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function reuse(certFile: string, keyFile: string): CertificateFiles | null {
  try {
    const cert = fs.readFileSync(certFile, 'utf8');
    const key = fs.readFileSync(keyFile, 'utf8');
    const x509 = new crypto.X509Certificate(cert);
    if (!x509.checkPrivateKey(crypto.createPrivateKey(key))) return null;
    if (Date.parse(x509.validTo) - Date.now() < RENEW_DAYS * DAY) return null;
    for (const n of NAMES) if (!(net.isIP(n) ? x509.checkIP(n) : x509.checkHost(n))) return null;
    return { certFile, keyFile, cert, key };
  } catch {
    return null;
  }
}

function writeReplacing(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; accepted a readable PEM file`);
  }
}
