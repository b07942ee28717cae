"""A child process whose output lines the test can wait for (shared by the interop tests)."""
import queue
import subprocess
import threading
import time


class LineProc:
    """Runs cmd with stdout+stderr merged; a thread keeps every line in .lines and feeds wait()."""

    def __init__(self, cmd, env=None):
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=env)
        self.q = queue.Queue()
        self.lines = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip())
            self.q.put(line.rstrip())
        self.q.put(None)

    def wait(self, match, timeout=60):
        """The next line that starts with match (a str) or satisfies match (a callable)."""
        ok = (lambda l: l.startswith(match)) if isinstance(match, str) else match
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.q.get(timeout=max(0.1, end - time.time()))
            except queue.Empty:
                break
            if line is None:
                break
            if ok(line):
                return line
        raise AssertionError("no %s line in %s s; output:\n%s" % (
            repr(match) if isinstance(match, str) else "matching", timeout,
            "\n".join(l[:300] for l in self.lines[-40:])))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
