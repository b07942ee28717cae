"""Run code inside the MicroPython host firmware (build/host/micropython)."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("TAILNET_BUILD", os.path.join(REPO, "build"))
MICROPYTHON = os.path.join(BUILD, "host", "micropython")
VECTORS = os.environ.get(
    "TAILNET_VECTORS", os.path.join(os.path.dirname(REPO), "shared", "vectors")
)


def run_mpy(code, *, heapsize=None, timeout=120, args=(), env=None, cwd=None, check=True):
    """Run `code` (a string) in the host firmware; return CompletedProcess.

    heapsize: e.g. "64K" caps the MicroPython heap (-X heapsize=...).
    check: raise AssertionError with both streams when the exit status is not 0.
    """
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=" + str(heapsize)]
    cmd += ["-c", code] + list(args)
    full_env = dict(os.environ)
    # Never let the filesystem shadow the frozen package.
    full_env["MICROPYPATH"] = ".frozen"
    if env:
        full_env.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(
            "micropython exited %d\n--- stdout\n%s\n--- stderr\n%s" % (p.returncode, p.stdout, p.stderr)
        )
    return p


def run_mpy_file(path, *, heapsize=None, timeout=120, args=(), env=None, cwd=None, check=True):
    """Run a script file in the host firmware (same options as run_mpy)."""
    code = "import sys\nsys.argv[:] = %r\nexec(open(%r).read())" % ([path] + list(args), path)
    return run_mpy(code, heapsize=heapsize, timeout=timeout, env=env, cwd=cwd, check=check)
