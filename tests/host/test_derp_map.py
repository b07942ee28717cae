"""DERPMap helpers (modules/tailnet/derp_map.py): dial/STUN targets per tailcfg rules,
home-region choice with a configured preference and netcheck-style hysteresis."""
import os
import sys

from mpy import REPO

sys.path.insert(0, os.path.join(REPO, "modules"))
from tailnet import derp_map as dm  # noqa: E402

HEADSCALE = {"Regions": {"999": {"RegionID": 999, "RegionCode": "headscale", "Nodes": [
    {"Name": "999", "RegionID": 999, "HostName": "localhost", "IPv4": "127.0.0.1",
     "STUNPort": 3478, "DERPPort": 8443}]}}}
TESTCONTROL = {"Regions": {"1": {"RegionID": 1, "Nodes": [
    {"Name": "t1", "RegionID": 1, "HostName": "127.0.0.1", "IPv4": "127.0.0.1", "IPv6": "none",
     "STUNPort": 41000, "DERPPort": 42000, "InsecureForTests": True, "STUNTestIP": "127.0.0.1"}]}}}


def test_dial_and_stun_info():
    n = HEADSCALE["Regions"]["999"]["Nodes"][0]
    assert dm.dial_info(n) == ("127.0.0.1", 8443, True, False, "localhost")
    assert dm.stun_info(n) == ("127.0.0.1", 3478)
    t = TESTCONTROL["Regions"]["1"]["Nodes"][0]
    assert dm.dial_info(t) == ("127.0.0.1", 42000, True, True, "127.0.0.1")
    assert dm.dial_info({"HostName": "derp.example"}, use_tls=False) == (
        "derp.example", 3340, False, False, "derp.example")
    assert dm.dial_info({"HostName": "d", "IPv4": "none"})[0] == "d"
    assert dm.dial_info({"HostName": "d", "STUNOnly": True}) is None
    assert dm.stun_info({"HostName": "d", "STUNPort": -1}) is None
    assert dm.stun_info({"HostName": "d"}) == ("d", 3478)
    assert dm.dial_info(None) is None and dm.stun_info("junk") is None


def test_home_choice():
    m = {"Regions": {
        "1": {"Nodes": [{"HostName": "a"}]},
        "2": {"Nodes": [{"HostName": "b"}]},
        "3": {"Nodes": [{"HostName": "c"}], "Avoid": True},
        "4": {"Nodes": [{"HostName": "d", "STUNOnly": True}]},
        "x": {"Nodes": []},
        "5": None,
    }}
    assert dm.home_candidates(m) == [1, 2]
    assert dm.choose_home(m) == 1
    assert dm.choose_home(m, current=2) == 2
    assert dm.choose_home(m, {1: 30, 2: 10}) == 2
    assert dm.choose_home(m, {1: 30, 2: 25}, current=1) == 1  # not 1/3 better: stay
    assert dm.choose_home(m, {1: 30, 2: 19}, current=1) == 2
    assert dm.choose_home(m, {1: 30, 2: 10, 3: 1}) == 2  # Avoid regions never home
    assert dm.choose_home(m, {1: 5}, preferred=2) == 2  # configured preference wins
    assert dm.choose_home(m, {1: 5}, preferred=7) == 1  # unless not in the map
    assert dm.choose_home({}) == 0
    assert dm.choose_home(HEADSCALE) == 999
