"""Keep exiftool from outliving the server: a lifeline pipe watched by a tiny Perl shim, and a
sweep of the strays that a killed server (or a killed shim) left behind.

Why a shim rather than ``PR_SET_PDEATHSIG``: Trio starts children from a worker thread and the
signal follows the *thread* that forked (Trio retires idle workers after ~10 s), so it would
kill a healthy exiftool; forking from the event-loop thread instead needs ``preexec_fn``, which
is unsafe with threads and blocks the loop for the fork. exiftool ignores the end of its stdin
under ``-stay_open``, so that cannot serve either. The shim forks: the parent execs exiftool
(same pid, so signals and ``wait()`` reach exiftool itself); the child closes the standard
streams and blocks on the read end of a pipe whose write end only the server holds. When the
server dies (even by SIGKILL) the kernel closes that end, the read returns, and the watcher
kills exiftool. It exits by itself when exiftool goes. Perl is there wherever exiftool is.
"""

from __future__ import annotations

import logging
import os
import shutil

log = logging.getLogger(__name__)

#: Environment variables that mark our helpers: the media folder and the server's pid.
OWNER_ENV = "IMMICH_TRIO_EXIFTOOL_OWNER"
SERVER_ENV = "IMMICH_TRIO_EXIFTOOL_SERVER"
#: How often the watcher checks that exiftool still runs.
WATCH_INTERVAL_SECONDS = 1
KILL_WAIT_SECONDS = 3.0

# $ARGV[0]: lifeline fd; the rest: exiftool's command line. The watcher polls getppid() once
# a second so it leaves when exiftool exits on its own.
SHIM = r"""
my $fd = shift @ARGV;
my $exif = $$;
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid) {
    POSIX::close($fd);
    exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";
}
POSIX::close($_) for 0 .. 2;
while (getppid() == $exif) {
    my $rin = "";
    vec($rin, $fd, 1) = 1;
    if (select($rin, undef, undef, %d) > 0) {
        kill("KILL", $exif) if getppid() == $exif;
        exit 0;
    }
}
"""


def shim_command(command: list[str], fd: int) -> list[str]:
    """``command`` run under the watcher shim (``fd``: the lifeline's read end), or as is
    when there is no Perl (then only ``sweep_strays`` protects against leftovers)."""
    perl = shutil.which("perl")
    if perl is None:
        return command
    program = shutil.which(command[0]) or command[0]
    return [perl, "-MPOSIX", "-e", SHIM % WATCH_INTERVAL_SECONDS, str(fd), program, *command[1:]]


def marker_env(owner: str) -> dict[str, str]:
    return {**os.environ, OWNER_ENV: owner, SERVER_ENV: str(os.getpid())}


def sweep_strays(owner: str) -> int:
    """Kill exiftool helpers (and their watchers) that a dead server of ``owner`` left behind;
    the count killed. Blocking: run it in a thread.

    A helper is ours by its environment (same user, same ``owner``). It is a stray when the
    server named in it is gone, or the pid now belongs to a process younger than the helper
    (pids are reused, e.g. in containers). Helpers of a live server on the same media folder
    (a second worker process) are left alone.
    """
    try:
        import psutil
    except ImportError:  # optional: the lifeline alone then guards against leftovers
        return 0
    uid = os.getuid()
    me = os.getpid()
    strays = []
    for proc in psutil.process_iter(["uids", "cmdline"]):
        try:
            if proc.pid == me or proc.info["uids"] is None or proc.info["uids"].real != uid:
                continue
            if not any("exiftool" in arg for arg in proc.info["cmdline"] or ()):
                continue
            env = proc.environ()
            if env.get(OWNER_ENV) != owner:
                continue
            server_pid = int(env.get(SERVER_ENV, "0"))
            created = proc.create_time()
        except (psutil.Error, ValueError):
            continue
        try:
            alive = psutil.Process(server_pid).create_time() <= created
        except (psutil.Error, ValueError):
            alive = False
        if not alive:
            strays.append(proc)
    for proc in strays:
        log.warning("metadata: killing a leftover exiftool helper (pid %d) of %s", proc.pid, owner)
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(strays, timeout=KILL_WAIT_SECONDS)
    return len(strays)
