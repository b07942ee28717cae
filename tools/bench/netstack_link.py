# Two tailnet netstacks joined by an in-memory link with deterministic loss,
# duplication, reordering and delay. Runs on CPython and MicroPython (tests
# and tools/bench/netstack_bench.py use it).
#
#   link = Link(a, b, loss=50, dup=50, reorder=50, seed=7)   # per mille
#   link.run(lambda: done, max_ms=60000)
ALLOW_ALL = [{"SrcIPs": ["*"], "DstPorts": [{"IP": "*", "Ports": {"First": 0, "Last": 65535}}]}]
A4 = "100.64.0.1"
B4 = "100.64.0.2"
A6 = "fd7a:115c:a1e0::1"
B6 = "fd7a:115c:a1e0::2"


class Rng:
    """xorshift32: the same sequence on every Python."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def permille(self):
        return self.next() % 1000


class Link:
    def __init__(self, a, b, loss=0, dup=0, reorder=0, seed=1, delay=5):
        self.a = a
        self.b = b
        self.loss = loss
        self.dup = dup
        self.reorder = reorder
        self.rng = Rng(seed)
        self.delay = delay
        self.now = 0
        self.q = []          # [deliver_at, order, dst, pkt]
        self.nq = 0
        self.sent = self.lost = self.duped = self.reordered = self.delivered = 0

    def _collect(self):
        for src, dst in ((self.a, self.b), (self.b, self.a)):
            p = src.pop_out()
            while p is not None:
                self.sent += 1
                r = self.rng
                if r.permille() < self.loss:
                    self.lost += 1
                else:
                    copies = 2 if r.permille() < self.dup else 1
                    if copies == 2:
                        self.duped += 1
                    for _ in range(copies):
                        d = self.delay
                        if r.permille() < self.reorder:
                            d += self.delay * (1 + r.next() % 4)
                            self.reordered += 1
                        self.nq += 1
                        self.q.append([self.now + d, self.nq, dst, p])
                p = src.pop_out()

    def step(self, dt=1):
        self._collect()
        self.now += dt
        keep = []
        due = []
        for e in self.q:
            (due if e[0] <= self.now else keep).append(e)
        self.q = keep
        due.sort(key=lambda e: (e[0], e[1]))   # MicroPython's sort is not stable
        for e in due:
            p = e[3]
            self.delivered += 1
            e[2].input(p, 0, len(p), self.now)
        self.a.tick(self.now)
        self.b.tick(self.now)
        self._collect()

    def run(self, done, max_ms=60000, dt=1, each=None):
        end = self.now + max_ms
        while self.now < end:
            if each is not None:
                each()
            if done():
                return True
            self.step(dt)
        return done()


def pair(max_tcp=4):
    from tailnet.netstack import Netstack
    a = Netstack([A4, A6], max_tcp=max_tcp)
    b = Netstack([B4, B6], max_tcp=max_tcp)
    a.set_filter(ALLOW_ALL)
    b.set_filter(ALLOW_ALL)
    return a, b


def transfer(link, cli, srv, nbytes, seed=3):
    """Send nbytes from cli to srv and nbytes back (echo-free, both directions).

    Returns (ok, bytes_c2s, bytes_s2c, ms)."""
    rng = Rng(seed)
    data = bytes((rng.next() & 255) for _ in range(min(nbytes, 4096)))
    state = {"c_sent": 0, "s_sent": 0, "c_got": bytearray(), "s_got": bytearray(), "closed": False}

    def chunk(off):
        k = off % len(data)
        return data[k:k + min(len(data) - k, nbytes - off, 1400)]

    def each():
        st = state
        if st["c_sent"] < nbytes:
            st["c_sent"] += cli.send(chunk(st["c_sent"]))
        if st["s_sent"] < nbytes:
            st["s_sent"] += srv.send(chunk(st["s_sent"]))
        for c, key in ((cli, "c_got"), (srv, "s_got")):
            r = c.recv(8192)
            while r:
                st[key].extend(r)
                r = c.recv(8192)
        if st["c_sent"] == nbytes and st["s_sent"] == nbytes and not st["closed"]:
            cli.close()
            srv.close()
            st["closed"] = True

    def each_safe():
        try:
            each()
        except OSError as e:
            state["error"] = e.args[0]

    t0 = link.now
    ok = link.run(lambda: "error" in state or len(state["c_got"]) >= nbytes and len(state["s_got"]) >= nbytes
                  and cli.recv() == b"" and srv.recv() == b"", max_ms=600000, each=each_safe)
    ok = ok and "error" not in state
    want = bytearray()
    while len(want) < nbytes:
        want.extend(chunk(len(want)))
    return (ok and state["s_got"] == want and state["c_got"] == want,
            len(state["s_got"]), len(state["c_got"]), link.now - t0)
