# MicroPython side of tools/tnctl_devsim.py: runs inside the unix-port firmware with stdin/stdout
# on a pty and speaks the raw-REPL protocol that mpremote uses with a board (Ctrl-A raw mode,
# code ended by Ctrl-D, "OK", stdout, Ctrl-D, stderr, Ctrl-D, ">"; Ctrl-D on an empty buffer is a
# soft reset; Ctrl-B back to the friendly REPL; raw-paste is declined with "R\x00"). Code runs
# with the process's cwd as the device's root filesystem, in one globals dict kept across
# executions until a soft reset, as on a board.
import sys
import io

_in = sys.stdin.buffer
_out = sys.stdout.buffer
BANNER = b"MicroPython (tailnet devsim) on unix\r\nType \"help()\" for more information.\r\n>>> "
RAW = b"raw REPL; CTRL-B to exit\r\n>"
sys.path[:] = ["", ".frozen", "./lib"]


def w(b):
    _out.write(b)
    try:
        _out.flush()
    except AttributeError:
        pass


def read1():
    b = _in.read(1)
    if not b:
        sys.exit(0)
    return b[0]


def new_globals():
    return {"__name__": "__main__"}


def run(code, g):
    w(b"OK")
    err = None
    try:
        exec(code, g)
    except SystemExit:
        pass
    except BaseException as e:  # report like a board: traceback on the error channel
        s = io.StringIO()
        sys.print_exception(e, s)
        err = s.getvalue()
    w(b"\x04")
    if err:
        w(err.replace("\n", "\r\n").encode())
    w(b"\x04>")


def main():
    g = new_globals()
    raw = False
    buf = bytearray()
    while True:
        c = read1()
        if not raw:
            if c == 1:
                raw = True
                buf = bytearray()
                w(b"\r\n" + RAW)
            elif c == 4:
                w(b"\r\n")
                return
            continue
        if c == 1:
            buf = bytearray()
            w(b"\r\n" + RAW)
        elif c == 2:
            raw = False
            w(b"\r\n" + BANNER)
        elif c == 3:
            buf = bytearray()
        elif c == 5 and not buf:
            # raw-paste request "\x05A\x01": not supported, fall back to plain raw REPL
            read1()
            read1()
            w(b"R\x00")
        elif c == 4:
            if not buf:
                g = new_globals()
                w(b"OK\r\nMPY: soft reboot\r\n" + RAW)
            else:
                code = bytes(buf).decode()
                buf = bytearray()
                run(code, g)
        else:
            buf.append(c)


main()
