"""Inbound packet filter (modules/tailnet/pfilter.py), protocol notes §10.2, on CPython
(packets built with scapy) and in the host firmware (rules replaced live)."""
import os
import sys

import pytest
from scapy.all import ICMP, IP, TCP, UDP, IPv6, ICMPv6EchoRequest, raw

from mpy import REPO, run_mpy

sys.path.insert(0, os.path.join(REPO, "modules"))
from tailnet import ip, pfilter  # noqa: E402
from tailnet.netstack import Netstack  # noqa: E402

ME4, ME6 = "100.64.0.1", "fd7a:115c:a1e0::1"
ALLOW_ALL = [{"SrcIPs": ["*"], "DstPorts": [{"IP": "*", "Ports": {"First": 0, "Last": 65535}}]}]
CAPGRANT = {"SrcIPs": ["*"], "CapGrant": [{"Dsts": ["0.0.0.0/0"], "Caps": ["ingress"]}]}


def check(rules, pkt, flows=()):
    f = pfilter.Filter()
    f.set_addresses([ME4, ME6])
    f.set_rules(rules)
    for o in flows:
        ob = bytearray(raw(o))
        op = ip.Pkt()
        assert ip.parse(op, ob, 0, len(ob)) == ip.OK and f.outbound(op)
    b = bytearray(raw(pkt))
    p = ip.Pkt()
    assert ip.parse(p, b, 0, len(b)) == ip.OK
    return f.check(p)


def rule(src, dst="*", first=0, last=65535, protos=None):
    r = {"SrcIPs": src, "DstPorts": [{"IP": dst, "Ports": {"First": first, "Last": last}}]}
    if protos is not None:
        r["IPProto"] = protos
    return r


def syn(src, dport, dst=ME4, flags="S"):
    L3 = IP if ":" not in src else IPv6
    return L3(src=src, dst=dst) / TCP(sport=40000, dport=dport, flags=flags)


def test_allow_all_and_capgrant_only_rules():
    assert check(ALLOW_ALL, syn("100.64.0.2", 22))
    assert check(ALLOW_ALL + [CAPGRANT], syn("fd7a:115c:a1e0::2", 22, ME6))
    assert not check([CAPGRANT], syn("100.64.0.2", 22))        # grants allow no traffic
    assert not check([], syn("100.64.0.2", 22))
    assert not check(None, syn("100.64.0.2", 22))


@pytest.mark.parametrize("src,ok", [
    ("100.64.0.5", True), ("100.64.0.4", False),               # single IP
    ("10.1.2.3", True), ("10.2.0.0", False),                   # CIDR 10.1.0.0/16
    ("192.168.1.10", True), ("192.168.1.20", True), ("192.168.1.21", False),  # range
    ("fd7a:115c:a1e0::77", True), ("fd7a:115c:a1e1::77", False),              # v6 CIDR
])
def test_source_matching(src, ok):
    rules = [rule(["100.64.0.5", "10.1.0.0/16", "192.168.1.10-192.168.1.20",
                   "fd7a:115c:a1e0::/48", "cap:something"])]
    dst = ME6 if ":" in src else ME4
    assert check(rules, syn(src, 80, dst)) is ok


def test_ports_protocols_and_non_syn():
    rules = [rule(["*"], "*", 80, 443)]
    assert check(rules, syn("100.64.0.2", 80)) and check(rules, syn("100.64.0.2", 443))
    assert not check(rules, syn("100.64.0.2", 22)) and not check(rules, syn("100.64.0.2", 444))
    # TCP that is not a pure SYN is accepted whatever the rules (tailscaled does the same)
    assert check([], syn("100.64.0.2", 22, flags="A"))
    assert check([], syn("100.64.0.2", 22, flags="SA"))
    # destination prefix must contain our address
    assert not check([rule(["*"], "100.64.0.2/32")], syn("100.64.0.2", 80))
    assert check([rule(["*"], "100.64.0.0/10")], syn("100.64.0.2", 80))
    # IPProto: only UDP allowed -> TCP SYN denied, UDP accepted; default set covers both
    udp_only = [rule(["*"], protos=[17])]
    u = IP(src="100.64.0.2", dst=ME4) / UDP(sport=1, dport=53)
    assert not check(udp_only, syn("100.64.0.2", 53)) and check(udp_only, u)
    assert check([rule(["*"], protos=[])], u)
    # unknown protocol: needs an explicit rule with the full port range
    gre = IP(src="100.64.0.2", dst=ME4, proto=47) / b"xxxx"
    assert not check(ALLOW_ALL, gre)
    assert check([rule(["*"], protos=[47])], gre)
    assert not check([rule(["*"], "*", 0, 100, protos=[47])], gre)
    # out-of-range IPProto values are ignored (and the rule still parses)
    assert check([rule(["*"], protos=[300, 6])], syn("100.64.0.2", 1))


def test_icmp_rules():
    req = IP(src="100.64.0.2", dst=ME4) / ICMP(type=8)
    assert check([rule(["100.64.0.2"], "*", 22, 22, protos=[6])], req)   # ports/proto ignored
    assert not check([rule(["100.64.0.3"])], req)
    for t in (0, 3, 11, 12):                                              # replies and errors
        assert check([], IP(src="100.64.0.2", dst=ME4) / ICMP(type=t))
    assert not check([], IPv6(src="fd7a::2", dst=ME6) / ICMPv6EchoRequest())


def test_udp_reverse_flow_tracking():
    out = IP(src=ME4, dst="100.64.0.2") / UDP(sport=5000, dport=53)
    back = IP(src="100.64.0.2", dst=ME4) / UDP(sport=53, dport=5000)
    other = IP(src="100.64.0.3", dst=ME4) / UDP(sport=53, dport=5000)
    assert not check([], back)
    assert check([], back, flows=[out])
    assert not check([], other, flows=[out])
    out6 = IPv6(src=ME6, dst="fd7a::2") / UDP(sport=5000, dport=53)
    assert check([], IPv6(src="fd7a::2", dst=ME6) / UDP(sport=53, dport=5000), flows=[out6])


def test_flow_table_is_bounded_lru():
    f = pfilter.Filter(flows=4)
    f.set_addresses([ME4])
    p = ip.Pkt()

    def out(port):
        b = bytearray(raw(IP(src=ME4, dst="100.64.0.2") / UDP(sport=port, dport=53)))
        ip.parse(p, b, 0, len(b))
        return f.outbound(p)

    def back(port):
        b = bytearray(raw(IP(src="100.64.0.2", dst=ME4) / UDP(sport=53, dport=port)))
        ip.parse(p, b, 0, len(b))
        return f.check(p)

    for port in range(1000, 1004):
        out(port)
    assert back(1000)               # touch 1000: now 1001 is the least recently used
    out(2000)
    assert f.flows() == 4
    assert back(1000) and back(2000) and back(1002) and not back(1001)


def test_destination_not_ours_dropped_and_counted():
    f = pfilter.Filter()
    f.set_addresses([ME4])
    f.set_rules(ALLOW_ALL)
    for dst in ("100.64.0.9", "224.0.0.1", "169.254.169.254"):
        b = bytearray(raw(IP(src="100.64.0.2", dst=dst) / UDP(sport=1, dport=2)))
        p = ip.Pkt()
        ip.parse(p, b, 0, len(b))
        assert not f.check(p)
    assert f.not_ours == 3 and f.denied == 3


def test_bad_filters_rejected_and_old_rules_kept():
    ns = Netstack([ME4])
    ns.set_filter([rule(["*"], "*", 80, 80)])
    gen = ns.filter.gen
    for bad in ([{"SrcIPs": ["*"], "SrcBits": [32], "DstPorts": []}],
                [{"SrcIPs": ["*"], "DstPorts": [{"IP": "*", "Bits": 32, "Ports": {"First": 0, "Last": 1}}]}],
                [{"SrcIPs": ["300.1.1.1"], "DstPorts": [{"IP": "*", "Ports": {"First": 0, "Last": 1}}]}],
                [{"SrcIPs": ["1.2.3.4-::1"], "DstPorts": [{"IP": "*", "Ports": {"First": 0}}]}],
                "nonsense", [5]):
        with pytest.raises(ValueError):
            ns.set_filter(bad)
    assert ns.filter.gen == gen and len(ns.filter.rules) == 1


def test_netstack_counts_denied_and_live_update():
    ns = Netstack([ME4])
    lst = ns.tcp_listen(22)
    b = raw(syn("100.64.0.2", 22))
    ns.set_filter([rule(["*"], "*", 80, 80)])
    ns.input(b, 0, len(b), 0)
    assert ns.stats()["rx_denied"] == 1 and ns.pop_out() is None
    ns.set_filter([rule(["*"], "*", 22, 22)])       # netmap change: takes effect at once
    ns.input(b, 0, len(b), 0)
    synack = IP(bytes(ns.pop_out()))
    assert synack[TCP].flags == "SA" and lst.pending() == 1


def test_denied_counted_per_protocol():
    ns = Netstack([ME4])
    ns.set_filter([rule(["*"], "*", 80, 80)])
    for pkt in (syn("100.64.0.2", 81), syn("100.64.0.2", 81, flags="A"),     # non-SYN: passes
                IP(src="100.64.0.2", dst=ME4) / UDP(sport=5, dport=81),
                IP(src="100.64.0.2", dst=ME4) / UDP(sport=5, dport=80),
                IP(src="100.64.0.2", dst="100.64.0.9") / UDP(sport=5, dport=80)):  # not ours
        b = raw(pkt)
        ns.input(b, 0, len(b), 0)
    st = ns.stats()
    assert (st["rx_denied_tcp"], st["rx_denied_udp"], st["rx_not_ours"], st["rx_denied"]) == (1, 1, 1, 3), st


FW_CODE = r"""
from tailnet.netstack import Netstack
import tailnet.ip as ip
ns = Netstack(["100.64.0.1"])
u = ns.udp(53)
def pkt(src, dport):
    b = bytearray(28 + 2)
    ip.put_header(b, bytes(src), bytes([100, 64, 0, 1]), 17, 10)
    ip.put16(b, 20, 999); ip.put16(b, 22, dport); ip.put16(b, 24, 10)
    b[28:30] = b"hi"
    ip.set_l4_csum(b, 20, 4, 17, 10, 6)
    return b
def send(src, dport):
    b = pkt(src, dport)
    ns.input(b, 0, len(b), 0)
    return u.pending()
r = [send([100, 64, 0, 2], 53)]
ns.set_filter([{"SrcIPs": ["100.64.0.2-100.64.0.3"], "DstPorts": [{"IP": "100.64.0.1", "Ports": {"First": 53, "Last": 53}}]}])
r.append(send([100, 64, 0, 2], 53))
r.append(send([100, 64, 0, 4], 53))
ns.set_filter([{"SrcIPs": ["100.64.0.0/10"], "DstPorts": [{"IP": "*", "Ports": {"First": 0, "Last": 65535}}]}])
r.append(send([100, 64, 0, 4], 53))
print(r, ns.stats()["rx_denied"])
"""


def test_firmware_filter_live_update(micropython):
    p = run_mpy(FW_CODE)
    assert p.stdout.strip() == "[0, 1, 1, 2] 2"


def test_rules_from_netmap_message():
    """The rules as the control helper's netmap parser stores them (PacketFilter and
    PacketFilters), merged and applied; a CapGrant rule (as testcontrol sends) is skipped."""
    import json
    from tailnet import netmap
    nm = netmap.NetMap()
    doc = {"PacketFilter": [rule(["100.64.0.2"], "*", 22, 22), CAPGRANT]}
    nm.apply(netmap.parse_message(json.dumps(doc).encode()))
    ns = Netstack([ME4])
    ns.tcp_listen(22)
    ns.tcp_listen(80)
    ns.set_netmap_filters(nm.filters)

    def syn_to(port, src="100.64.0.2"):
        b = raw(syn(src, port))
        ns.input(b, 0, len(b), 0)
        out = ns.pop_out()
        return out is not None and IP(bytes(out))[TCP].flags == "SA"
    assert syn_to(22) and not syn_to(80) and not syn_to(22, "100.64.0.3")
    doc = {"PacketFilters": {"base": [rule(["*"], "*", 80, 80)], "extra": [rule(["100.64.0.3"])]}}
    nm.apply(netmap.parse_message(json.dumps(doc).encode()))
    ns.set_netmap_filters(nm.filters)
    assert syn_to(80) and syn_to(22, "100.64.0.3") and not syn_to(22, "100.64.0.4")
