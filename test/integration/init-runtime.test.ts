// What dynod-init does for the command on its way to exec, now that on x86-64 it has no
// C library but its own (native/init-rt.c): the PATH search, the /bin/sh fallback for a
// script without "#!", the arguments and the environment as given, the error texts.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, ROOT } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { runLib } from '../helpers/lib';

t.test('a script without "#!" runs through /bin/sh with its arguments, as execvp runs it', async (t) => {
  const app = tempApp(t, { plain: { content: 'echo "0=$0 1=$1 2=$2 n=$#"\n', mode: 0o755 } });
  const r = await run(['./plain', 'a b', ''], ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '0=./plain 1=a b 2= n=2\n');
});

t.test('PATH is searched in order, past a directory where the name is not executable', async (t) => {
  const app = tempApp(t, {
    'a/tool': { content: '#!/bin/sh\necho from-a\n', mode: 0o644 },
    'b/tool': { content: '#!/bin/sh\necho from-b "$@"\n', mode: 0o755 },
    'c/tool': { content: '#!/bin/sh\necho from-c\n', mode: 0o755 },
  });
  const r = await run(['tool', 'x'], ['--app', app, '-e', 'PATH=/app/missing:/app/a:/app/b:/app/c:/usr/bin:/bin']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'from-b x\n');
});

t.test('a name found only without execute permission is 126, with the reason in words', async (t) => {
  const app = tempApp(t, { 'a/tool': { content: '#!/bin/sh\necho no\n', mode: 0o644 } });
  const r = await run(['tool'], ['--app', app, '-e', 'PATH=/app/a']);
  t.equal(r.code, 126);
  t.match(r.stderr, /tool/);
  t.match(r.stderr, /ermission denied/);
  t.equal(r.stdout, '');
});

t.test('the environment reaches the command entry by entry, byte for byte', async (t) => {
  const app = tempApp(t);
  const value = 'a=b;c d\t"quoted" é';
  const r = await run(['sh', '-c', 'printf %s "$ODD"; printf "|%s" "$EMPTY"'], ['--app', app, '-e', `ODD=${value}`, '-e', 'EMPTY=']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `${value}|`);
});

t.test('on x86-64, dynod-init carries no C library (its start-up is _start → main)', async (t) => {
  if (process.arch !== 'x64') {
    t.skip(`dynod-init links glibc statically on ${process.arch}; native/init-rt.c is x86-64 only`);
    return;
  }
  const bin = fs.readFileSync(path.join(ROOT, 'build', 'Release', 'dynod-init'));
  t.equal(bin.subarray(0, 4).toString('latin1'), '\x7fELF');
  // a static glibc brings its own names along; ~750 KB of them
  t.notOk(bin.includes('glibc'), 'no glibc in the binary');
  t.ok(bin.length < 200 * 1024, `${bin.length} bytes`);
  // no program interpreter: PT_INTERP (3) in none of the program headers
  const phoff = Number(bin.readBigUInt64LE(0x20));
  const phentsize = bin.readUInt16LE(0x36);
  const phnum = bin.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) t.not(bin.readUInt32LE(phoff + i * phentsize), 3, `program header ${i} is not PT_INTERP`);
});

t.test('text crosses the seam as JSON unchanged: any Unicode, a lone surrogate as U+FFFD (as N-API made it)', async (t) => {
  const app = tempApp(t);
  const value = 'é ü 😀 \u2028 "q" \\ \t end';
  const r = await runLib({ command: ['sh', '-c', 'printf %s "$A"; printf "|%s" "$B"'], app, net: 'none', env: { A: value, B: 'x\ud800y' } });
  t.equal(r.exit.status, 0, r.stderr);
  t.equal(r.stdout, `${value}|x\ufffdy`);
});
