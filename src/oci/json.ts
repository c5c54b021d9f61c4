// Typed reads of an OCI JSON document (config.json, a process.json) where every
// failure is one line naming the file and the JSON path of the field, what is wrong
// and what is accepted. null counts as absent, as for the Go structs of the spec.
import { UsageError } from '../errors';

export type Json = Record<string, unknown>;

/** path + key: `mounts[3]`, `linux.resources`, `annotations["dynod.size"]`. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

export function show(v: unknown): string {
  if (v === undefined) return 'a missing value';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

export class JsonReader {
  /** file: how messages name the document, e.g. "config.json" */
  constructor(readonly file: string) {}

  fail(path: string, problem: string, accepted?: string): never {
    throw new UsageError(`${this.file}: ${path}: ${problem}${accepted ? `; accepted: ${accepted}` : ''}`);
  }

  /** A field the spec defines that dynod-oci cannot honour. */
  unsupported(path: string, why: string): never {
    throw new UsageError(`${this.file}: ${path}: not supported by dynod-oci (${why})`);
  }

  object(v: unknown, path: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `${show(v)} is not an object`, 'a JSON object');
    return v as Json;
  }

  optObject(v: unknown, path: string): Json | null {
    return present(v) ? this.object(v, path) : null;
  }

  /** An array, or [] when absent. */
  array(v: unknown, path: string, what: string): unknown[] {
    if (!present(v)) return [];
    if (!Array.isArray(v)) this.fail(path, `${show(v)} is not an array`, `an array of ${what}`);
    return v;
  }

  string(v: unknown, path: string, accepted = 'a string'): string {
    if (typeof v !== 'string') this.fail(path, v === undefined ? 'missing' : `${show(v)} is not a string`, accepted);
    if (v.includes('\0')) this.fail(path, 'contains a NUL byte', accepted);
    return v;
  }

  optString(v: unknown, path: string, accepted = 'a string'): string | null {
    return present(v) ? this.string(v, path, accepted) : null;
  }

  bool(v: unknown, path: string, absent: boolean): boolean {
    if (!present(v)) return absent;
    if (typeof v !== 'boolean') this.fail(path, `${show(v)} is not a boolean`, 'true or false');
    return v;
  }

  /** An integer in [min, max]; JSON numbers beyond 2^53 are not read exactly, so they are refused. */
  int(v: unknown, path: string, min: number, max: number): number {
    if (v === undefined) this.fail(path, 'missing', `an integer from ${min} to ${max}`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      this.fail(path, `${show(v)} is out of range`, `an integer from ${min} to ${max}`);
    return v;
  }

  optInt(v: unknown, path: string, min: number, max: number): number | null {
    return present(v) ? this.int(v, path, min, max) : null;
  }

  strings(v: unknown, path: string, what = 'strings'): string[] {
    return this.array(v, path, what).map((s, i) => this.string(s, at(path, i), `an array of ${what}`));
  }

  ints(v: unknown, path: string, min: number, max: number): number[] {
    return this.array(v, path, `integers from ${min} to ${max}`).map((n, i) => this.int(n, at(path, i), min, max));
  }

  /** An object of strings (annotations, sysctl); {} when absent. */
  stringMap(v: unknown, path: string): Record<string, string> {
    const o = this.optObject(v, path) ?? {};
    const out: Record<string, string> = {};
    for (const [k, s] of Object.entries(o)) out[k] = this.string(s, at(path, k));
    return out;
  }

  absolutePath(v: unknown, path: string): string {
    const s = this.string(v, path, 'an absolute path');
    if (!s.startsWith('/')) this.fail(path, `${show(s)} is not an absolute path`, 'an absolute path');
    return s;
  }

  /** Refuses a field the spec defines but dynod-oci cannot honour, unless absent or empty ({}, [], "", false). */
  refuseSet(o: Json, key: string, path: string, why: string): void {
    if (isSet(o[key])) this.unsupported(at(path, key), why);
  }

  /** The same for a map whose keys carry the meaning (netDevices: {"eth1": {}}): refused unless absent or {}. */
  refuseEntries(o: Json, key: string, path: string, why: string): void {
    const v = o[key];
    if (present(v) && (typeof v !== 'object' || Object.keys(v as object).length > 0)) this.unsupported(at(path, key), why);
  }
}

/** Whether a value says anything: not absent, null, "", false, [] or an object of such values. */
export function isSet(v: unknown): boolean {
  if (!present(v) || v === '' || v === false) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.values(v as Json).some(isSet);
  return true;
}
