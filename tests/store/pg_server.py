"""A PostgreSQL 15 server of the tests' own (Debian's postgresql-15): initdb
and postgres run as the postgres user (initdb refuses root) in a temporary
directory, reached only over a Unix socket in that directory
(listen_addresses=''), stopped by PID."""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

def _pg_bin():
    """SCB_PG_BIN, else the newest Debian server (postgresql-15 on Debian 12)."""
    given = os.environ.get("SCB_PG_BIN")
    if given:
        return pathlib.Path(given)
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not found:
        raise RuntimeError("no PostgreSQL server (apt-get install postgresql)")
    return found[-1].parent


PG_BIN = _pg_bin()
SETPRIV = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


def _as_postgres(argv):
    # root runs the tests; the server and initdb must not run as root
    return (SETPRIV if os.geteuid() == 0 else []) + [str(a) for a in argv]


# The server's programs, without the sanitizer runtime that an ASan run
# preloads for our Python extension (initdb hangs under it).
_PG_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


class PgServer:
    def __init__(self, settings=None):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="scboot-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.settings = {"listen_addresses": "", "unix_socket_directories": str(self.dir),
                         "max_connections": "60", "shared_buffers": "32MB"}
        self.settings.update(settings or {})
        self.proc = None
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        out = subprocess.run(_as_postgres([PG_BIN / "initdb", "-D", self.data, "-U", "postgres",
                                           "-A", "trust", "-E", "UTF8", "--locale=C",
                                           "--no-sync"]),
                             capture_output=True, text=True, timeout=120, env=_PG_ENV)
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed: {out.stderr}")

    @property
    def socket(self):
        return self.dir / ".s.PGSQL.5432"

    def start(self):
        argv = [PG_BIN / "postgres", "-D", self.data]
        for k, v in self.settings.items():
            argv += ["-c", f"{k}={v}"]
        log = open(self.log, "ab")
        if os.geteuid() == 0:
            shutil.chown(self.log, "postgres", "postgres")
        self.proc = subprocess.Popen(_as_postgres(argv), stdout=log, stderr=log, env=_PG_ENV)
        log.close()
        deadline = time.monotonic() + 30
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def ready(self):
        return self.socket.exists() and self.psql("postgres", "SELECT 1", check=False) == "1"

    @property
    def pid(self):
        return self.proc.pid

    def uri(self, db):
        return f"postgresql:///{db}?host={self.dir}&user=postgres"

    def psql(self, db, sql, check=True):
        """Run SQL with psql (an independent client): its unaligned output."""
        out = subprocess.run([PG_BIN / "psql", "-h", str(self.dir), "-U", "postgres", "-d", db,
                              "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, timeout=60, env=_PG_ENV)
        if check and out.returncode != 0:
            raise RuntimeError(f"psql: {out.stderr}")
        return out.stdout.strip() if out.returncode == 0 else None

    def create_db(self, name):
        self.psql("postgres", f"CREATE DATABASE {name}")
        return self.uri(name)

    def dump(self, db):
        """pg_dump of a database: every byte the server holds for it."""
        out = subprocess.run([PG_BIN / "pg_dump", "-h", str(self.dir), "-U", "postgres", db],
                             capture_output=True, timeout=60, check=True, env=_PG_ENV)
        return out.stdout

    def _pids(self):
        """The postmaster and its children (the server's backends)."""
        pids = [self.pid]
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.pid:
                    pids.append(int(entry.name))
        return pids

    def freeze(self):
        """SIGSTOP the server and its backends: it stops answering."""
        self._frozen = self._pids()
        for pid in self._frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self):
        for pid in getattr(self, "_frozen", []):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self._frozen = []

    def stop(self, mode=signal.SIGINT):
        """Stop the server (SIGINT: fast shutdown, SIGQUIT: immediate)."""
        if self.proc is None:
            return
        self.thaw()
        if self.proc.poll() is None:
            self.proc.send_signal(mode)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
