"""Streaming MapResponse parsing and the merge rules (modules/tailnet/netmap.py):
framing split anywhere, deltas, patches, online changes, filters, DERPMap, bad input."""
import json

import pytest
from hypothesis import given, settings, strategies as st

import _control_util  # noqa: F401
from tailnet import netmap as nm

K = lambda i: "nodekey:%064x" % i  # noqa: E731
D = lambda i: "discokey:%064x" % i  # noqa: E731


def node(i, **kw):
    n = {"ID": i, "Key": K(i), "DiscoKey": D(i), "Name": "n%d.tailnet.test." % i,
         "Addresses": ["100.64.%d.%d/32" % (i >> 8, i & 255), "fd7a:115c:a1e0::%x/128" % i],
         "AllowedIPs": ["100.64.%d.%d/32" % (i >> 8, i & 255), "fd7a:115c:a1e0::%x/128" % i],
         "Endpoints": ["127.0.0.1:%d" % (40000 + i), "[::1]:%d" % (40000 + i)],
         "HomeDERP": 999, "Online": True, "Hostinfo": {"Hostname": "n%d" % i, "Services": [{"Proto": "tcp"}] * 5},
         "KeyExpiry": "0001-01-01T00:00:00Z", "CapMap": {"a": [None, {"x": 1}]}}
    n.update(kw)
    return n


def frame(msg):
    b = json.dumps(msg).encode()
    return len(b).to_bytes(4, "little") + b


def run(msgs, cut=None):
    s = nm.Stream()
    m = nm.NetMap()
    data = b"".join(frame(x) for x in msgs)
    cut = cut or len(data)
    for i in range(0, len(data), cut):
        for d in s.feed(data[i:i + cut]):
            m.apply(d)
    return m


FIRST = {"Node": node(1), "Peers": [node(2), node(3)], "DERPMap": {"Regions": {"999": {"RegionID": 999, "Nodes": [{"Name": "999a", "HostName": "localhost"}]}}},
         "PacketFilters": {"base": [{"SrcIPs": ["*"], "DstPorts": [{"IP": "*", "Ports": {"First": 0, "Last": 65535}}]}]},
         "DNSConfig": {"Domains": ["tailnet.test"]}, "Domain": "tailnet.test"}


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.integers(1, 300))
def test_first_map_any_split(cut):
    m = run([FIRST, {"KeepAlive": True}], cut)
    assert m.complete and m.addresses() == ["100.64.0.1/32", "fd7a:115c:a1e0::1/128"]
    assert sorted(m.peers) == [2, 3]
    d = nm.describe(m.peers[2])
    assert d["Key"] == K(2) and d["DiscoKey"] == D(2) and d["HomeDERP"] == 999
    assert d["Endpoints"] == ["127.0.0.1:40002", "[::1]:40002"] and "AllowedIPs" not in d
    assert m.derpmap["Regions"]["999"]["Nodes"][0]["HostName"] == "localhost"
    assert m.filters["base"][0]["SrcIPs"] == ["*"] and m.domain == "tailnet.test"


def test_deltas():
    m = run([FIRST,
             {"PeersChanged": [node(4, DERP="127.3.3.40:7", HomeDERP=0)], "PeersRemoved": [3]},
             {"PeersChangedPatch": [{"NodeID": 2, "DERPRegion": 5, "Endpoints": ["1.2.3.4:5"], "Online": False},
                                    {"NodeID": 77, "Online": True}]},
             {"OnlineChange": {"4": False}},
             {"DERPMap": {"HomeParams": {}}},
             {"PacketFilter": []},
             {"PacketFilters": {"*": None, "x": [{"SrcIPs": ["1.2.3.4"]}]}}])
    assert sorted(m.peers) == [2, 4]
    assert nm.rec_derp(m.peers[4]) == 7 and nm.unpack(m.peers[4])[nm.ONLINE] is False
    assert nm.rec_derp(m.peers[2]) == 5 and nm.unpack(m.peers[2])[nm.ONLINE] is False
    assert nm.describe(m.peers[2])["Endpoints"] == ["1.2.3.4:5"]
    assert "999" in m.derpmap["Regions"]            # Regions null keeps the old ones
    assert m.filters == {"x": [{"SrcIPs": ["1.2.3.4"]}]}
    m2 = run([FIRST, {"Peers": [node(9)]}])          # non-empty Peers replaces everything
    assert sorted(m2.peers) == [9]
    m3 = run([FIRST, {"Peers": []}])                 # empty Peers is "no full list"
    assert sorted(m3.peers) == [2, 3]


@pytest.mark.parametrize("bad", [
    {"Peers": [node(2, Key="nodekey:zz")]},
    {"Peers": [node(2, Key="")]},
    {"Node": node(1, Addresses=["300.1.1.1/32"])},
    {"Peers": [{"Key": K(5)}]},
])
def test_invalid_nodes_are_errors(bad):
    with pytest.raises(ValueError):
        run([bad])


def test_truncated_and_oversized_messages():
    s = nm.Stream()
    b = json.dumps(FIRST).encode()
    with pytest.raises(ValueError):
        s.feed((len(b) - 10).to_bytes(4, "little") + b[:-10])
    with pytest.raises(nm.NetmapError):
        nm.Stream(max_message=1000).feed((5000).to_bytes(4, "little"))


def test_many_peers_compact():
    msg = {"Node": node(1), "Peers": [node(i) for i in range(2, 502)]}
    m = run([msg], 4096)
    assert len(m.peers) == 500
    assert nm.rec_id(m.peer_by_key(bytes.fromhex("%064x" % 300))) == 300
    assert all(len(r) < 210 for r in m.peers.values())
    k, d, eps = sorted(m.peer_paths())[0]
    assert len(k) == 32 and len(d) == 32 and eps[0] == (bytes([127, 0, 0, 1]), 40002)


def test_int64_node_ids():
    # testcontrol's fake nodes have negative int64 IDs
    a = {"Addresses": ["100.64.0.9/32"], "AllowedIPs": ["100.64.0.9/32"], "Key": K(5), "DiscoKey": D(5)}
    m = run([{"Node": node(1), "Peers": [node(-7268600197772179145, **a), node(2**62, **a)]}])
    assert sorted(m.peers) == [-7268600197772179145, 2**62]
    assert nm.describe(m.peers[-7268600197772179145])["ID"] == -7268600197772179145
    with pytest.raises(nm.NetmapError):
        run([{"Peers": [node(2**63, **a)]}])


@settings(max_examples=20, derandomize=True, deadline=None)
@given(st.integers(1, 400))
def test_full_map_in_place(cut):
    table_ids = []
    second = {"Peers": [node(3, Name="renamed-longer.tailnet.test."), node(4), node(70)]}
    third = {"Peers": [], "PeersChanged": [node(5)], "PeersRemoved": [70]}
    m = nm.NetMap()
    s = nm.Stream(into=m)
    data = b"".join(frame(x) for x in (FIRST, second, third))
    for i in range(0, len(data), cut):
        for d in s.feed(data[i:i + cut]):
            m.apply(d)
            table_ids.append(id(m.peers))
    assert len(set(table_ids)) == 1          # one table, updated in place
    assert sorted(m.peers) == [3, 4, 5] and len(m.peers) == 3
    assert nm.describe(m.peers[3])["Name"] == "renamed-longer.tailnet.test."
    assert 2 not in m.peers and m.peers.get(70) is None and m.peers.pop(70) is None
    assert sorted(i for i, _ in m.peers.items()) == [3, 4, 5]
    assert [nm.rec_id(r) for r in m.peers.values()] == sorted(m.peers, key=lambda i: i & 63)


def _rec(i, name):
    out = []
    h = nm.NodeHandler(out.append)
    for k, v in (("ID", i), ("Key", K((i & 0xFFFF) + 1)), ("Name", name)):
        h.val(k, v)
    h.done()
    return out[0]


def test_peer_table_buckets():
    # records back to back in 64 buckets (ID & 63), keyed by the ID inside the record
    t = nm.PeerTable()
    recs = {i: _rec(i, "p%d" % i) for i in list(range(1, 300)) + [-5, 2**62]}
    for i, r in recs.items():
        t[i] = r
    assert len(t) == 301 and t[2**62] == recs[2**62] and t[-5] == recs[-5]
    assert t.pop(64) == recs[64] and 64 not in t and len(t) == 300 and t[128] == recs[128]
    for name in ("a-much-longer-name-than-before", "p128", "x"):   # replaced: other and same length
        t[128] = _rec(128, name)
        assert nm.describe(t[128])["Name"] == name and t[192] == recs[192] and len(t) == 300
    assert sorted(t) == sorted(i for i in recs if i != 64)
    with pytest.raises(KeyError):
        t[64]


def test_local_routes_grouped():
    dns = {"Routes": {"64.100.in-addr.arpa.": [], "65.100.in-addr.arpa.": [], "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa.": [],
                      "corp.example.": [{"Addr": "10.0.0.1"}]}, "Domains": ["tailnet.test"]}
    m = run([{"Node": node(1), "DNSConfig": dns}])
    assert m.dns["LocalRoutes"] == {"100.in-addr.arpa.": "64 65", "e.1.a.c.5.1.1.a.7.d.f.ip6.arpa.": "0"}
    assert m.dns["Routes"] == {"corp.example.": [{"Addr": "10.0.0.1"}]}
