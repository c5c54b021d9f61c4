'use strict';
// Watching a runner of the formation benchmark from outside: its output line by line, its
// web ports over HTTP, and the numbered lines of the log test.
const fs = require('node:fs');
const net = require('node:net');
const { hr } = require('./common');
const { LOG_PAD } = require('./formation-app');

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const HINT = /web listening (web\.\d+)/;
const WORKER = /worker ready (worker\.\d+)/;
// dynod's own word that a dyno is up (its log stream), kept beside the outside measurement
const DYNOD_UP = /dynod\[((?:web|worker)\.\d+)\]: State changed from starting to up/;

/**
 * The output of one runner (stdout and stderr), split into lines as they arrive. Remembers
 * when each web process said it listens and each worker said it is ready, so that a waiter
 * made later (after `scale`) still sees lines that came before it.
 */
class OutputWatch {
  constructor(streams, { keep = 200 } = {}) {
    this.hints = new Map();
    this.workers = new Map();
    this.dynodUp = new Map();
    this.tail = [];
    this.keep = keep;
    this.listeners = new Set();
    this.lineHandler = null;
    for (const s of streams) this.add(s);
  }

  add(s) {
    let carry = '';
    s.setEncoding('utf8');
    s.on('data', (chunk) => {
      const now = hr();
      const parts = (carry + chunk).split('\n');
      carry = parts.pop();
      for (const l of parts) this.line(l, now);
    });
    s.on('end', () => {
      if (carry) this.line(carry, hr());
      carry = '';
    });
  }

  /** Lines appended to a file, read every intervalMs (a runner whose stdout is that file). */
  follow(file, intervalMs = 50) {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(1 << 20);
    let carry = '';
    let pos = 0;
    const poll = () => {
      const now = hr();
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        const parts = (carry + buf.toString('utf8', 0, n)).split('\n');
        carry = parts.pop();
        for (const l of parts) this.line(l, now);
      }
    };
    const timer = setInterval(poll, intervalMs);
    this.unfollow = () => {
      clearInterval(timer);
      poll();
      if (carry) this.line(carry, hr());
      fs.closeSync(fd);
      this.unfollow = () => {};
    };
  }

  line(raw, now) {
    const l = raw.includes('\x1b') ? raw.replace(ANSI, '') : raw;
    if (this.lineHandler) {
      // the log test: every line goes to its counter, and only the counter
      this.lineHandler(l, now);
      return;
    }
    this.tail.push(l);
    if (this.tail.length > this.keep) this.tail.shift();
    let m;
    if ((m = HINT.exec(l)) && !this.hints.has(m[1])) this.hints.set(m[1], now);
    else if ((m = WORKER.exec(l)) && !this.workers.has(m[1])) this.workers.set(m[1], now);
    else if ((m = DYNOD_UP.exec(l)) && !this.dynodUp.has(m[1])) this.dynodUp.set(m[1], now);
    else return;
    for (const f of this.listeners) f(m[1]);
  }
}

/** One HTTP GET; true when the answer starts with a 200 status line. */
function probe(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    let buf = '';
    let settled = false;
    const s = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve(ok);
    };
    const ok = () => /^HTTP\/1\.[01] 200/.test(buf);
    s.setTimeout(timeoutMs, () => done(false));
    s.on('connect', () => s.write('GET / HTTP/1.0\r\nHost: localhost\r\n\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (ok()) done(true);
    });
    s.on('error', () => done(false));
    s.on('close', () => done(ok()));
  });
}

const FAST_MS = 5;
const SWEEP_MS = 100;

/**
 * Resolves when every web (name → host port) answers HTTP 200 and every worker printed its
 * line: {ms since t0, webMs, workerMs, dynodUpMs}. A web port is probed every 5 ms once its
 * process said it listens, and every 100 ms anyway (a lost hint cannot hang the wait);
 * probing every port every few ms would load the manager that publishes it (dynod) more
 * than the others. Rejects after timeoutMs with what was still missing.
 */
function waitAllUp(watch, t0, webs, workers, timeoutMs, isAlive = () => true) {
  return new Promise((resolve, reject) => {
    const upAt = new Map();
    const busy = new Set();
    let finished = false;
    const since = (t) => Number(t - t0) / 1e6;
    const fast = new Set();
    const finish = (err) => {
      if (finished) return;
      finished = true;
      clearInterval(sweep);
      clearTimeout(timer);
      watch.listeners.delete(onEvent);
      if (err) return reject(err);
      const last = (m) => Math.max(0, ...[...m.values()].map(since));
      const workerAt = new Map(workers.map((w) => [w, watch.workers.get(w)]));
      const dynodWeb = webs.map(([n]) => watch.dynodUp.get(n)).filter(Boolean);
      resolve({
        ms: Math.max(last(upAt), last(workerAt)),
        webMs: last(upAt),
        workerMs: workers.length ? last(workerAt) : NaN,
        dynodUpMs: dynodWeb.length === webs.length && webs.length ? Math.max(...dynodWeb.map(since)) : NaN,
      });
    };
    const check = () => {
      if (upAt.size === webs.length && workers.every((w) => watch.workers.has(w))) finish();
    };
    // one probe at a time per port; a port whose process said it listens is probed again
    // 5 ms after each failure (also when the hint came while a sweep's probe was out)
    const tryWeb = async (name, port) => {
      if (busy.has(name) || upAt.has(name) || finished) return;
      busy.add(name);
      const ok = await probe(port);
      busy.delete(name);
      if (finished) return;
      if (ok) {
        upAt.set(name, hr());
        check();
      } else if (fast.has(name)) setTimeout(() => tryWeb(name, port), FAST_MS);
    };
    const ports = new Map(webs);
    const onEvent = (name) => {
      if (ports.has(name) && !fast.has(name)) {
        fast.add(name);
        tryWeb(name, ports.get(name));
      }
      check();
    };
    watch.listeners.add(onEvent);
    const sweep = setInterval(() => {
      if (!isAlive()) return finish(new Error(`the runner ended before all were up (${upAt.size}/${webs.length} web, ${workers.filter((w) => watch.workers.has(w)).length}/${workers.length} workers)\n${watch.tail.slice(-15).join('\n')}`));
      for (const [n, p] of webs) if (!fast.has(n)) tryWeb(n, p);
    }, SWEEP_MS);
    const timer = setTimeout(() => {
      const missW = webs.filter(([n]) => !upAt.has(n)).map(([n]) => n);
      const missK = workers.filter((w) => !watch.workers.has(w));
      finish(new Error(`not all up after ${timeoutMs} ms: web missing ${missW.length} (${missW.slice(0, 5).join(' ')}…), workers missing ${missK.length}\n${watch.tail.slice(-15).join('\n')}`));
    }, timeoutMs);
    for (const [n] of webs) if (watch.hints.has(n)) onEvent(n);
    check();
  });
}

const LOG_LINE = new RegExp(`(?:^| )(log\\.(\\d+)) (\\d{7}) (x{${LOG_PAD}})$`);
const LOG_LIKE = /xxxxx|log\.\d+ \d|^\d{1,7} x/;
// dynod's word that its output dropped lines rather than stall (logs.ts: Logplex's L10)
const L10 = /Error L10 \(output buffer overflow\) -> (\d+) log lines? dropped/;

/**
 * Counts the log test's lines: each of `procs` processes prints `lines` numbered lines.
 * valid = whole lines, each (process, number) once; lost = never seen; cut = lines that
 * hold part of one (a line split or joined on the way); misnamed = a prefix naming
 * another process.
 */
class LogCount {
  constructor(procs, lines) {
    this.procs = procs;
    this.lines = lines;
    this.seen = Array.from({ length: procs }, () => new Uint8Array(lines + 1));
    // log.1 in a prefix, not log.10
    this.names = Array.from({ length: procs }, (_, i) => new RegExp(`log\\.${i + 1}(?!\\d)`));
    this.distinct = 0;
    this.dup = 0;
    this.cut = 0;
    this.misnamed = 0;
    this.other = 0;
    this.announcedDropped = 0;
    this.firstAt = null;
    this.lastAt = null;
    this.cutSamples = [];
  }

  get expected() {
    return this.procs * this.lines;
  }

  get complete() {
    return this.distinct === this.expected;
  }

  line(l, now) {
    const m = LOG_LINE.exec(l);
    if (!m) {
      if (LOG_LIKE.test(l)) {
        this.cut++;
        if (this.cutSamples.length < 5) this.cutSamples.push(l.slice(0, 160));
      } else {
        this.other++;
        const d = L10.exec(l);
        if (d) this.announcedDropped += Number(d[1]);
      }
      return;
    }
    const p = Number(m[2]) - 1;
    const n = Number(m[3]);
    if (p < 0 || p >= this.procs || n < 1 || n > this.lines) {
      this.cut++;
      return;
    }
    if (m.index > 0 && !this.names[p].test(l.slice(0, m.index))) this.misnamed++;
    if (this.seen[p][n]) this.dup++;
    else {
      this.seen[p][n] = 1;
      this.distinct++;
    }
    this.firstAt ??= now;
    this.lastAt = now;
  }

  result(t0) {
    const span = this.firstAt !== null ? Number(this.lastAt - this.firstAt) / 1e9 : NaN;
    return {
      expected: this.expected,
      valid: this.distinct,
      lost: this.expected - this.distinct,
      dup: this.dup,
      cut: this.cut,
      misnamed: this.misnamed,
      other: this.other,
      announcedDropped: this.announcedDropped,
      firstToLastMs: span * 1000,
      spawnToLastMs: this.lastAt !== null ? Number(this.lastAt - t0) / 1e6 : NaN,
      linesPerSec: span > 0 ? this.distinct / span : NaN,
      cutSamples: this.cutSamples,
    };
  }
}

module.exports = { OutputWatch, probe, waitAllUp, LogCount };
