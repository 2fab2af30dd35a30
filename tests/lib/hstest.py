"""hstest.py: what the cli and golden test scripts share: run a program with a timeout and judge
the run (hang, crash, sanitizer report), start a fixture and wait for its "ready", gcore it.

Standard library only. A script imports it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
so that it works from any directory (meson runs the scripts from the build tree).
"""

import json
import os
import select
import signal
import subprocess
import time

SKIP = 77                # exit status: the test was skipped (meson's convention)
READY_TIMEOUT = 60       # s for a fixture to print "ready"
GCORE_TIMEOUT = 240      # s for gcore (cores of a few hundred MB)
SANITIZER_MARKS = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer",
                   "runtime error:")


class Failure(Exception):
    """A test failed; the message says why."""


def log(*a):
    print(*a, flush=True)


def verdict(failures, passed="PASS"):
    """A test script's exit status: each failure logged and 1, or `passed` logged and 0."""
    for f in failures:
        log("FAIL: " + f)
    if failures:
        return 1
    log(passed)
    return 0


# ------------------------------------------------------------------ runs

class Run:
    """One finished run: cmd, rc (exit status), out and err (text), secs."""

    def __init__(self, cmd, rc, out, err, secs):
        self.cmd, self.rc, self.out, self.err, self.secs = cmd, rc, out, err, secs


def judge(rc, err, what="heapscope"):
    """Raise Failure if a run crashed (a signal, or a status of 128 or more) or a
    sanitizer reported on its stderr; any other exit status is the caller's to judge."""
    if rc < 0 or rc >= 128:
        raise Failure("%s crashed: status %d" % (what, rc))
    if any(m in err for m in SANITIZER_MARKS):
        raise Failure("%s: sanitizer report on stderr" % what)


def run(cmd, timeout, what="heapscope"):
    """Run cmd (stdin /dev/null, output captured) for at most timeout s; log the
    command, its exit status and stderr; judge() it. Returns a Run."""
    log("$ " + " ".join(cmd))
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("%s hung: no exit within %d s" % (what, timeout))
    secs = time.monotonic() - t0
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    log("exit %d in %.2f s" % (r.returncode, secs))
    if err:
        log("stderr:\n" + err.rstrip())
    judge(r.returncode, err, what)
    return Run(cmd, r.returncode, out, err, secs)


def run_ok(cmd, timeout, what="heapscope"):
    """run(), and the exit status must be 0."""
    r = run(cmd, timeout, what)
    if r.rc != 0:
        raise Failure("%s exited with status %d, expected 0: %s" % (what, r.rc, " ".join(cmd)))
    return r


def json_of(r):
    """The run's stdout as JSON; Failure if it is not."""
    try:
        return json.loads(r.out)
    except ValueError as e:
        raise Failure("%s: stdout is not JSON: %s\n%s" % (" ".join(r.cmd), e, r.out[:2000]))


# ------------------------------------------------------------------ fixtures

def spawn(cmd, env=None, stdin=subprocess.DEVNULL, **popen_args):
    """Start a fixture program with its stdout a pipe (for wait_for); other
    keyword arguments (cwd, preexec_fn) go to Popen."""
    log("$ " + " ".join(cmd))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=stdin, env=env, **popen_args)


def wait_for(proc, word=b"ready\n", buf=b"", timeout=READY_TIMEOUT):
    """Read proc's stdout until word has appeared in it (buf: what was read
    before); returns all that was read. Failure if proc exits first or word
    does not come within timeout s."""
    deadline = time.monotonic() + timeout
    while word not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure("fixture did not print %r within %d s" % (word, timeout))
        r, _, _ = select.select([proc.stdout], [], [], left)
        if not r:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise Failure("fixture exited with status %s before %r (output %r)"
                          % (proc.wait(), word, buf.decode(errors="replace")))
        buf += chunk
    return buf


def stop(proc):
    """Kill proc (SIGKILL) if it still runs, and reap it. proc may be None."""
    if proc and proc.poll() is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc:
        proc.wait()


# Inherited settings that would change the allocator a fixture runs on (a
# sanitizer runtime, meson test's MALLOC_PERTURB_, tuning, sampling).
ALLOCATOR_ENV = ("LD_PRELOAD", "MALLOC_PERTURB_", "MALLOC_CHECK_", "MALLOC_ARENA_MAX",
                 "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES", "MALLOC_CONF",
                 "TCMALLOC_SAMPLE_PARAMETER")


def fixture_env():
    """os.environ without ALLOCATOR_ENV: the fixture runs on its allocator's defaults."""
    return {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV}


def start_fixture(cmd, env=None, **popen_args):
    """spawn() and wait_for() "ready"; the fixture is killed if it does not get there."""
    proc = spawn(cmd, env, **popen_args)
    try:
        wait_for(proc)
    except BaseException:
        stop(proc)
        raise
    return proc


class NoKernelCore(Exception):
    """The machine does not let a test get a core from the kernel; the message says why."""


def kernel_core_limits():
    """For Popen's preexec_fn: the core size limit raised as far as the hard
    limit lets an unprivileged process (ulimit -c unlimited)."""
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def kernel_core_pattern():
    """Where the kernel writes cores, if it writes them to a file: the
    pattern of /proc/sys/kernel/core_pattern. NoKernelCore otherwise.
    Nothing here changes a kernel setting."""
    import resource
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
    except OSError as e:
        raise NoKernelCore("cannot read /proc/sys/kernel/core_pattern: %s" % e)
    if not pattern or pattern.startswith("|"):
        raise NoKernelCore("core_pattern %r hands cores to a program, not to a file" % pattern)
    if resource.getrlimit(resource.RLIMIT_CORE)[1] == 0:
        raise NoKernelCore("the hard limit on core size (ulimit -Hc) is 0")
    return pattern


def kernel_core(proc, cwd, comm, timeout=GCORE_TIMEOUT):
    """Abort the fixture proc (started with kernel_core_limits, in cwd) and
    return the core the kernel wrote, by core_pattern: %p, %e and %% are
    filled in, other specifiers matched with a glob. NoKernelCore if no core
    file appears."""
    import glob
    pattern = kernel_core_pattern()
    pid = proc.pid
    proc.send_signal(signal.SIGABRT)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("the fixture did not die of SIGABRT within %d s" % timeout)
    # A runtime with handlers of its own (Go's) may end by another signal
    # that dumps core (SIGQUIT to its threads first).
    if rc >= 0:
        raise Failure("the fixture exited with status %d instead of dying of a signal" % rc)
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern):
            s = pattern[i + 1]
            out += {"p": str(pid), "P": str(pid), "e": comm[:15], "%": "%"}.get(s, "*")
            i += 2
            continue
        out += glob.escape(c)
        i += 1
    try:
        with open("/proc/sys/kernel/core_uses_pid") as f:
            if f.read().strip() == "1" and "%p" not in pattern:
                out += "." + str(pid)
    except OSError:
        pass
    if not os.path.isabs(out):
        out = os.path.join(glob.escape(cwd), out)
    found = glob.glob(out)
    if len(found) != 1 or os.path.getsize(found[0]) == 0:
        raise NoKernelCore("no core file appeared at %s (core_pattern %r)" % (out, pattern))
    log("kernel core: %s (%d bytes)" % (found[0], os.path.getsize(found[0])))
    return found[0]


def gcore(pid, prefix, timeout=GCORE_TIMEOUT):
    """gcore -o PREFIX PID: the core's path (PREFIX.PID). Failure unless gcore
    exits 0 within timeout s and leaves a non-empty core."""
    core = "%s.%d" % (prefix, pid)
    cmd = ["gcore", "-o", prefix, str(pid)]
    log("$ " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("gcore did not finish within %d s" % timeout)
    # gdb is chatty (thread debugging, vsyscall page warnings); only the exit
    # status and the file matter.
    if r.returncode != 0 or not os.path.isfile(core) or os.path.getsize(core) == 0:
        raise Failure("gcore failed (status %d, core %s):\n%s"
                      % (r.returncode, "present" if os.path.exists(core) else "missing",
                         r.stdout.decode(errors="replace")))
    log("core: %s (%d bytes)" % (core, os.path.getsize(core)))
    return core
