"""peer - what tests/integration/test_timers.py and test_locks.py share to drive
hotline-timerpeer against the real test stack (see README.md).

setup() creates the peer's roles with scripts/db-init (HOTLINE_DB_INIT_SERVICES=
timerpeer, into a temporary env file) and applies its migrations; Peer runs one
process and collects its stdout lines ("word key=value ..."); Redis is a
minimal RESP client for the stack's Redis (no Python Redis package in Debian's
base set); sql() runs SQL as the superuser.
"""
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import hotline_test as ht

SCHEMA = "timerpeer"
PREFIX = "hotline:{timerpeer}"
KEY_DUE = PREFIX + ":timers:due"
KEY_INFLIGHT = PREFIX + ":timers:inflight"
KEY_SEEDED = PREFIX + ":timers:seeded"

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BUSY, EXIT_REFUSED = 0, 1, 2, 3, 4

_env = None


def binary():
    """The built peer; HOTLINE_TIMERPEER_BIN points at another build (e.g. one with a library change)."""
    return os.environ.get("HOTLINE_TIMERPEER_BIN") or os.path.join(ht.ENV["HOTLINE_BUILD_DIR"], "tests",
                                                                    "timerpeer", "hotline-timerpeer")


def setup():
    """Roles (scripts/db-init) and migrations; returns the environment of the peer processes."""
    global _env
    if _env is not None:
        return _env
    fd, path = tempfile.mkstemp(prefix="timerpeer-db.", suffix=".env")
    os.close(fd)
    try:
        env = dict(os.environ, HOTLINE_PG_SUPERUSER_DSN=ht.ENV["HOTLINE_PG_SUPERUSER_DSN"],
                   HOTLINE_DB_INIT_SERVICES=SCHEMA, HOTLINE_DB_ENV_FILE=path)
        subprocess.run(["bash", os.path.join(ht.REPO, "scripts", "db-init")], env=env, check=True,
                       capture_output=True, text=True)
        dsn = ht.load_env(path)
    finally:
        os.unlink(path)
    _env = dict(os.environ,
                HOTLINE_DB_DSN=dsn["HOTLINE_TIMERPEER_DSN"],
                HOTLINE_DB_OWNER_DSN=dsn["HOTLINE_TIMERPEER_OWNER_DSN"],
                HOTLINE_DB_SYSTEM_DSN=dsn["HOTLINE_TIMERPEER_SYSTEM_DSN"],
                HOTLINE_REDIS_URL=ht.ENV["HOTLINE_REDIS_URL"])
    rc, out, err = run("migrate")
    if rc != 0:
        raise RuntimeError("timerpeer migrate failed: " + err)
    return _env


def parse(line):
    """'word k=v k=v' -> {'_': 'word', 'k': 'v', ...} (values may be "quoted")."""
    head, _, rest = line.partition(" ")
    out = {"_": head}
    while rest:
        rest = rest.lstrip()
        k, _, rest = rest.partition("=")
        if rest.startswith('"'):
            v, _, rest = rest[1:].partition('"')
        else:
            v, _, rest = rest.partition(" ")
        out[k] = v
    return out


def run(*args, timeout=60):
    """Run one command to the end: (exit code, stdout, stderr)."""
    p = subprocess.run([binary()] + [str(a) for a in args], env=_env or os.environ, capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


class Peer:
    """A running hotline-timerpeer; stdout lines are collected as they come, stderr goes to a file."""

    def __init__(self, *args, stdin=False):
        self.args = [str(a) for a in args]
        self.err = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen([binary()] + self.args, env=_env, stdout=subprocess.PIPE, stderr=self.err,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True, bufsize=1)
        self.lines = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    @property
    def pid(self):
        return self.p.pid

    def expect(self, word, timeout=30):
        """The next stdout line starting with word, parsed; AssertionError on timeout or exit."""
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise AssertionError("timerpeer %s: no '%s' line within %ss; stdout %r; stderr %s" %
                                     (self.args[0], word, timeout, self.lines, self.stderr()[-2000:]))
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.q.put(None)
                raise AssertionError("timerpeer %s exited (%s) before '%s'; stdout %r; stderr %s" %
                                     (self.args[0], self.p.wait(), word, self.lines, self.stderr()[-2000:]))
            if line.split(" ", 1)[0] == word:
                return parse(line)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def signal(self, sig):
        self.p.send_signal(sig)

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout=30):
        return self.p.wait(timeout=timeout)

    def stop(self, timeout=30):
        """SIGTERM (SIGCONT first, in case it is stopped) and wait; SIGKILL if it hangs."""
        if self.alive():
            self.p.send_signal(signal.SIGCONT)
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def kill(self):
        if self.alive():
            self.p.kill()
        self.p.wait()

    def close(self):
        """Kill if still running and release the pipes and the stderr file."""
        self.kill()
        self.t.join(timeout=5)
        for f in (self.p.stdin, self.p.stdout, self.err):
            if f:
                try:
                    f.close()
                except OSError:
                    pass

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def events(self, event):
        """The log lines of stderr with event=<event>, parsed."""
        out = []
        for line in self.stderr().splitlines():
            if (" event=%s " % event) in line + " ":
                out.append(parse("log " + line))
        return out


class Redis:
    """A minimal RESP2 client (one connection, reconnects on demand)."""

    def __init__(self, port=None):
        self.port = int(port or ht.ENV["HOTLINE_REDIS_PORT"])
        self.s = None
        self.buf = b""

    def close(self):
        if self.s:
            self.s.close()
        self.s, self.buf = None, b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("redis: unexpected reply %r" % line)

    def __call__(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        fresh = self.s is None
        for attempt in (1, 2):
            if self.s is None:
                self.s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            try:
                self.s.sendall(b"".join(parts))
                return self._reply()
            except (OSError, ConnectionError):
                self.close()
                if fresh or attempt == 2:
                    raise
                # a connection opened before Redis restarted: once more on a new one

    def up(self):
        try:
            return self("PING") == "PONG"
        except (OSError, ConnectionError, RuntimeError):
            self.close()
            return False

    def info(self, section):
        out = {}
        for line in self("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out


def redis_pid():
    with open(os.path.join(ht.ENV["HOTLINE_RUN_DIR"], "pids", "redis.pid")) as f:
        return int(f.read().split()[0])


def sql(query):
    return ht.psql(query)


def one(query):
    rows = ht.psql(query)
    return rows[0][0] if rows else None


def quiet_schema():
    """No pending timer left by an earlier test, and no timer key in Redis."""
    sql("UPDATE %s.timers SET done_at = now(), outcome = 'cancelled' WHERE done_at IS NULL" % SCHEMA)
    r = Redis()
    try:
        r("DEL", KEY_DUE, KEY_INFLIGHT)
    finally:
        r.close()


def unique(prefix):
    """A key prefix of its own for one test run (letters and digits only: it goes into LIKE patterns)."""
    return prefix + uuid.uuid4().hex[:10]
