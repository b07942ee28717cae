#!/usr/bin/env python3
"""A MicroPython unix-port firmware made to look like a board on a serial port.

The firmware (default: build/host/micropython) runs tools/tnctl_devsim_repl.py on the master
side of a pty, with a directory as the device's filesystem (its cwd). The slave side
(/dev/pts/N) is what mpremote, tools/provision and tools/tnctl connect to, exactly as they
would to /dev/ttyACM0. Used by the tests (provisioning, mip install into a stock firmware) and
by `tnctl --host`.

    python3 tools/tnctl_devsim.py --fs /tmp/dev [--firmware PATH] [--heapsize 256K]
        prints the port path, serves until interrupted.
"""
import argparse
import os
import subprocess
import sys
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_FIRMWARE = os.path.join(os.environ.get("BUILD", os.path.join(REPO, "build")), "host", "micropython")
REPL_SCRIPT = os.path.join(HERE, "tnctl_devsim_repl.py")


class DevSim:
    """Context manager: .port is the serial device path; .fs the device filesystem."""

    def __init__(self, fs, firmware=DEFAULT_FIRMWARE, heapsize=None, log=None, exec_prefix=()):
        self.exec_prefix = list(exec_prefix)  # e.g. ["ip", "netns", "exec", ns]
        self.fs = os.path.abspath(fs)
        self.firmware = firmware
        self.heapsize = heapsize
        self.log = log
        self.proc = None
        self.port = None
        self._fds = []

    def start(self):
        os.makedirs(self.fs, exist_ok=True)
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: a plain byte pipe like a USB CDC port
        self._fds = [master, slave]  # keep the slave open so the pty survives client closes
        self.port = os.ttyname(slave)
        cmd = self.exec_prefix + [self.firmware]
        if self.heapsize:
            cmd += ["-X", "heapsize=" + str(self.heapsize)]
        cmd.append(REPL_SCRIPT)
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen:./lib"
        errf = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdin=master, stdout=master, stderr=errf, cwd=self.fs,
                                     env=env, close_fds=True)
        if self.log:
            errf.close()
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fs", required=True, help="directory used as the device filesystem")
    ap.add_argument("--firmware", default=DEFAULT_FIRMWARE)
    ap.add_argument("--heapsize", default=None)
    a = ap.parse_args(argv)
    sim = DevSim(a.fs, a.firmware, a.heapsize).start()
    print(sim.port, flush=True)
    try:
        sim.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
