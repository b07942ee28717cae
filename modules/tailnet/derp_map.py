# tailnet: DERPMap helpers (sans-I/O): where to dial a region, where to send STUN, and
# which region to call home (tailcfg/derpmap.go; netcheck's preferred-DERP hysteresis).
# MIT license

DEFAULT_STUN_PORT = 3478


def regions(derpmap):
    """-> {region_id int: region dict}, skipping nulls and malformed entries."""
    out = {}
    for k, r in ((derpmap or {}).get("Regions") or {}).items():
        try:
            rid = int(k)
        except (TypeError, ValueError):
            continue
        if isinstance(r, dict):
            out[rid] = r
    return out


def dial_info(node, use_tls=True):
    """DERPNode -> (connect host, port, tls, insecure, server_name) or None (STUN-only)."""
    if not isinstance(node, dict) or node.get("STUNOnly"):
        return None
    host = node.get("HostName") or ""
    ip = node.get("IPv4") or ""
    connect = ip if ip and ip != "none" else host
    if not connect:
        return None
    port = node.get("DERPPort") or (443 if use_tls else 3340)
    return connect, port, use_tls, bool(node.get("InsecureForTests")), host or connect


def stun_info(node):
    """DERPNode -> (ip or host, port) for STUN, or None when disabled."""
    if not isinstance(node, dict):
        return None
    port = node.get("STUNPort") or 0
    if port < 0:
        return None
    host = node.get("STUNTestIP") or node.get("IPv4") or node.get("HostName")
    if not host or host == "none":
        return None
    return host, port or DEFAULT_STUN_PORT


def home_candidates(derpmap):
    """Region ids a node may call home (not Avoid, not NoMeasureNoHome, has a DERP node)."""
    out = []
    for rid, r in regions(derpmap).items():
        if r.get("Avoid") or r.get("NoMeasureNoHome"):
            continue
        if any(dial_info(n) for n in (r.get("Nodes") or ())):
            out.append(rid)
    out.sort()
    return out


def choose_home(derpmap, latencies=None, current=0, preferred=0):
    """Pick the home region.
    - a configured `preferred` region wins while it is in the map and usable;
    - else the lowest measured latency, but the `current` home is kept unless the best
      is under 2/3 of its latency (netcheck's hysteresis against flapping);
    - with no measurements: keep `current` if still valid, else the lowest region id."""
    cands = home_candidates(derpmap)
    if not cands:
        return 0
    if preferred in cands:
        return preferred
    lat = {r: v for r, v in (latencies or {}).items() if r in cands and v is not None}
    if not lat:
        return current if current in cands else cands[0]
    best = min(lat, key=lambda r: (lat[r], r))
    cur = lat.get(current)
    if cur is not None and best != current and lat[best] * 3 >= cur * 2:
        return current
    return best
