"""A MicroPython board on a serial port, driven through mpremote's raw-REPL transport.

Shared by tools/provision, tools/tnctl and tests/hil. Code sent with exec() travels inside the
raw REPL, which does not echo: secrets embedded in it never appear on the terminal, in argv or
in a temporary file on the host.

    with Device("/dev/ttyACM0") as dev:
        dev.exec("print(1)")          -> "1\\r\\n" (str); raises DeviceError with the traceback
    with Device.host(fsdir) as dev:   the unix-port host firmware as a device (tnctl_devsim)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


class DeviceError(Exception):
    pass


class Device:
    def __init__(self, port, soft_reset=False, baudrate=115200, _sim=None):
        try:
            from mpremote.transport_serial import SerialTransport
        except ImportError:
            raise DeviceError("mpremote is not installed: pip install mpremote")
        self.port = port
        self._sim = _sim
        try:
            self._t = SerialTransport(port, baudrate=baudrate)
        except Exception as e:
            raise DeviceError("cannot open %s: %s" % (port, e))
        self._t.enter_raw_repl(soft_reset=soft_reset)

    @classmethod
    def host(cls, fs, firmware=None, heapsize=None, log=None):
        """Start the host firmware as a device with `fs` as its filesystem, and connect."""
        from tnctl_devsim import DEFAULT_FIRMWARE, DevSim

        sim = DevSim(fs, firmware or DEFAULT_FIRMWARE, heapsize=heapsize, log=log).start()
        try:
            return cls(sim.port, _sim=sim)
        except Exception:
            sim.stop()
            raise

    def exec(self, code, timeout=None, stream=None):
        """Run code on the device; return its stdout (str). stream(bytes) gets output live."""
        t = self._t
        t.exec_raw_no_follow(code)
        out, err = t.follow(timeout, stream)
        if err:
            raise DeviceError(err.decode(errors="replace").strip())
        return out.decode(errors="replace")

    def eval(self, expr):
        import ast

        return ast.literal_eval(self.exec("print(repr(%s))" % expr).strip())

    def interrupt(self):
        self._t.serial.write(b"\x03")

    def close(self):
        try:
            self._t.exit_raw_repl()
        except Exception:
            pass
        try:
            self._t.close()
        finally:
            if self._sim is not None:
                self._sim.stop()
                self._sim = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Device-side helper: write files atomically (all temporaries first, then renames, so a cut
# link leaves either the old or the new set), sync when the port can.
ATOMIC_WRITE = r'''
def _tn_write_all(files):
    import os
    for path, data in files:
        with open(path + ".tmp", "wb") as f:
            f.write(data)
    for path, data in files:
        try:
            os.rename(path + ".tmp", path)
        except OSError:
            try:
                os.remove(path)
            except OSError:
                pass
            os.rename(path + ".tmp", path)
    if hasattr(os, "sync"):
        os.sync()
'''


def write_files(dev, files):
    """files: list of (device_path, bytes). Atomic per the rules above."""
    code = ATOMIC_WRITE + "_tn_write_all(%r)\ndel _tn_write_all\n" % ([(p, bytes(d)) for p, d in files],)
    dev.exec(code)


def remove_files(dev, paths):
    dev.exec("import os\nfor p in %r:\n    try:\n        os.remove(p)\n    except OSError:\n        pass\n" % (list(paths),))
