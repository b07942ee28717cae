# status(): a dict view of the node, printed like `tailscale status`.
from tailnet import netmap as nmm


def _short(name):
    return name.split(".")[0] if name else "-"


def status(node, show=True):
    if node is None:
        st = {"BackendState": "NoState", "Self": None, "Peers": []}
    else:
        nm = node.netmap
        me = nmm.describe(nm.self_node) if nm.self_node else None
        peers = [nmm.describe(r) for r in sorted(nm.peers.values(), key=nmm.rec_id)]
        st = {"BackendState": node.state, "Self": me, "Peers": peers, "Error": node.error,
              "AuthURL": node.auth_url, "HostName": node.hostname}
    if show:
        _print(st)
    return st


def _ip(d):
    for a in d["Addresses"]:
        if "." in a:
            return a.split("/")[0]
    return d["Addresses"][0].split("/")[0] if d["Addresses"] else "-"


def _print(st):
    if st["BackendState"] != "Running":
        print("# state:", st["BackendState"], ("(" + st["Error"] + ")") if st.get("Error") else "")
        if st.get("AuthURL"):
            print("# log in at:", st["AuthURL"])
    me = st["Self"]
    if me:
        print("%-16s %-24s %s" % (_ip(me), _short(me["Name"]) or st.get("HostName"), "-"))
    for p in st["Peers"]:
        on = p["Online"]
        flag = "offline" if on is False else ("active" if on else "-")
        print("%-16s %-24s %s" % (_ip(p), _short(p["Name"]), flag))
