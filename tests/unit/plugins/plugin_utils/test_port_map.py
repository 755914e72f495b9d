"""The port policy engine, called directly (no Ansible needed)."""
import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.hailo.services.plugins.plugin_utils.port_map import (
    PortPolicyError,
    move_order,
    reconcile,
)

PLAN_SERVICES = {
    "hailo-ollama": {"port": 11434, "priority": 10, "health_path": "/api/version"},
    "hailo-vision": {"port": 11435},
    "hailo-ocr": {"port": 11436, "priority": 1},
    "hailo-whisper": {"port": 11437},
    "hailo-florence": {"port": 11438},
    "hailo-depth": {"port": 11436},
    "hailo-pose": {"port": 11436},
    "hailo-clip": {"port": 5000},
    "hailo-scrfd": {"port": 5001, "frozen": True},
    "hailo-face": {"port": 5002, "frozen": True, "state": "standby"},
    "hailo-piper": {"port": 5002},
}

PLAN_FINAL = {
    "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002, "hailo-piper": 5003,
    "hailo-ollama": 11434, "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437,
    "hailo-florence": 11438, "hailo-depth": 11439, "hailo-pose": 11440,
}


def test_plan_table_is_reproduced():
    result = reconcile(PLAN_SERVICES, reserved=[5099, 7860])
    assert result["ports"] == PLAN_FINAL
    assert [(c["service"], c["from"], c["to"]) for c in result["changes"]] == [
        ("hailo-depth", 11436, 11439),
        ("hailo-piper", 5002, 5003),
        ("hailo-pose", 11436, 11440),
    ]
    assert result["restart_order"] == ["hailo-depth", "hailo-piper", "hailo-pose"]
    reasons = {c["service"]: c["reason"] for c in result["changes"]}
    assert reasons["hailo-piper"].startswith("shared 5002 with frozen hailo-face")
    assert reasons["hailo-depth"].startswith("shared 11436 with hailo-ocr (priority 1)")


def test_without_ocr_priority_depth_wins_alphabetically():
    """The plan's trap: 'alphabetically first' of ocr, depth, pose is depth."""
    services = dict(PLAN_SERVICES)
    services["hailo-ocr"] = {"port": 11436}
    result = reconcile(services)
    assert result["ports"]["hailo-depth"] == 11436
    assert result["ports"]["hailo-ocr"] == 11439
    assert result["ports"]["hailo-pose"] == 11440
    reason = {c["service"]: c["reason"] for c in result["changes"]}["hailo-ocr"]
    assert "hailo-depth (alphabetically first)" in reason


def test_list_input_is_accepted():
    services = [dict(v, name=k) for k, v in PLAN_SERVICES.items()]
    assert reconcile(services)["ports"] == PLAN_FINAL


def test_lone_service_on_free_port_keeps_it():
    result = reconcile({"a": {"port": 5050}})
    assert result == {"ports": {"a": 5050}, "changes": [], "restart_order": []}


def test_highest_priority_wins_over_alphabet():
    result = reconcile({"a": {"port": 5000}, "b": {"port": 5000, "priority": 2}})
    assert result["ports"] == {"a": 5001, "b": 5000}


def test_frozen_beats_priority():
    result = reconcile({"a": {"port": 5000, "priority": 99}, "z": {"port": 5000, "frozen": True}})
    assert result["ports"] == {"a": 5001, "z": 5000}


def test_reserved_and_in_use_ports_are_left_and_skipped():
    result = reconcile(
        {"a": {"port": 5001}, "b": {"port": 5001}, "c": {"port": 5005}},
        reserved=[5002], in_use=[5003, 5005],
    )
    # c must leave 5005 (in use); b loses 5001 to a and skips 5002 (reserved), 5003 (in use).
    assert result["ports"] == {"a": 5001, "b": 5004, "c": 5006}
    reasons = {c["service"]: c["reason"] for c in result["changes"]}
    assert reasons["c"].startswith("port 5005 is in use by another program")


def test_placement_wraps_to_range_start():
    result = reconcile(
        {"a": {"port": 5098}, "b": {"port": 5098}, "c": {"port": 5099}},
    )
    assert result["ports"] == {"a": 5098, "b": 5000, "c": 5099}


def test_losers_are_placed_alphabetically():
    result = reconcile({"zeta": {"port": 5000}, "beta": {"port": 5000}, "alpha": {"port": 5000}})
    assert result["ports"] == {"alpha": 5000, "beta": 5001, "zeta": 5002}


def test_explicit_ranges_confine_moves():
    result = reconcile(
        {"a": {"port": 5002}, "b": {"port": 5002}},
        ranges=[{"start": 5001, "end": 5003}, {"start": 6000, "end": 6010}],
        in_use=[5003],
    )
    assert result["ports"] == {"a": 5002, "b": 5001}


def test_restart_order_waits_for_the_port_holder():
    # The engine never targets a port a mover still holds, but the ordering must hold for any
    # list of moves (fleet maps, hand-made input): z moves onto 5001, which a leaves first.
    changes = [
        {"service": "a", "from": 5001, "to": 5005},
        {"service": "b", "from": 5002, "to": 5001},
        {"service": "z", "from": 5003, "to": 5002},
        {"service": "c", "from": 5004, "to": 5006},
    ]
    assert move_order(changes) == ["a", "c", "b", "z"]


def test_restart_order_survives_a_cycle():
    changes = [
        {"service": "a", "from": 5001, "to": 5002},
        {"service": "b", "from": 5002, "to": 5001},
    ]
    assert move_order(changes) == ["a", "b"]


def test_unused_keys_are_ignored():
    result = reconcile({"a": {"port": 5000, "health_path": "/x", "state": "standby", "x": [1]}})
    assert result["ports"] == {"a": 5000}


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, culprits",
    [
        ({"services": {"a": {"port": 5000, "frozen": True}, "b": {"port": 5000, "frozen": True}}},
         ["a", "b", "5000", "frozen"]),
        ({"services": {"f": {"port": 5099, "frozen": True}}, "reserved": [5099]},
         ["frozen service f", "5099", "reserved"]),
        ({"services": {"f": {"port": 7860, "frozen": True}}, "in_use": [7860]},
         ["frozen service f", "7860", "in use"]),
        ({"services": {"a": {"port": "5000"}}}, ["service a", "'5000'", "not an integer"]),
        ({"services": {"a": {"port": 0}}}, ["service a", "port 0", "1-65535"]),
        ({"services": {"a": {"port": 70000}}}, ["service a", "70000"]),
        ({"services": {"a": {"port": True}}}, ["service a", "True"]),
        ({"services": {"a": {"port": 6000}}, "ranges": [{"start": 5000, "end": 5099}]},
         ["service a", "6000", "outside every given range", "5000-5099"]),
        ({"services": {"a": {"port": 5000}, "b": {"port": 5000}},
          "ranges": [{"start": 5000, "end": 5001}], "reserved": [5001]},
         ["service b", "5000", "range 5000-5001", "no free port"]),
        ({"services": [{"name": "a", "port": 5000}, {"name": "a", "port": 5001}]},
         ["duplicate", "'a'"]),
        ({"services": {"../etc/passwd": {"port": 5000}}}, ["'../etc/passwd'", "not a safe file name"]),
        ({"services": {"Hailo": {"port": 5000}}}, ["'Hailo'", "not a safe file name"]),
        ({"services": {"a..b": {"port": 5000}}}, ["'a..b'", "not a safe file name"]),
        ({"services": {"a": {"priority": 1}}}, ["service a", "no 'port'"]),
        ({"services": {"a": {"port": 5000, "frozen": "yes"}}}, ["service a", "frozen"]),
        ({"services": {"a": {"port": 5000, "priority": "high"}}}, ["service a", "priority"]),
        ({"services": {"a": {"port": 5000}}, "reserved": [99999]}, ["reserved", "99999"]),
        ({"services": {"a": {"port": 5000}}, "in_use": ["x"]}, ["in_use", "'x'"]),
        ({"services": {"a": {"port": 5000}}, "ranges": [{"start": 5010, "end": 5000}]},
         ["range #0", "5010", "5000"]),
        ({"services": {"a": {"port": 5000}},
          "ranges": [{"start": 5000, "end": 5050}, {"start": 5040, "end": 5099}]},
         ["5000-5050", "5040-5099", "overlap"]),
        ({"services": [{"port": 5000}]}, ["#0", "no 'name'"]),
        ({"services": "hailo-piper"}, ["dict", "str"]),
    ],
)
def test_bad_input_names_the_culprit(kwargs, culprits):
    with pytest.raises(PortPolicyError) as excinfo:
        reconcile(**kwargs)
    for culprit in culprits:
        assert culprit in str(excinfo.value)


# --------------------------------------------------------------------------- properties

RANGES = [{"start": 5000 + 100 * i, "end": 5000 + 100 * i + 29} for i in range(4)]
NAMES = st.from_regex(r"\A[a-z][a-z0-9-]{0,6}\Z")


@st.composite
def catalogs(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=25, unique=True))
    services = {}
    frozen_ports = set()
    for name in names:
        block = draw(st.sampled_from(RANGES))
        port = draw(st.integers(block["start"], block["start"] + 12))
        frozen = draw(st.booleans()) and port not in frozen_ports and draw(st.booleans())
        if frozen:
            frozen_ports.add(port)
        services[name] = {"port": port, "frozen": frozen, "priority": draw(st.integers(0, 3))}
    free_ports = [
        p for r in RANGES for p in range(r["start"], r["end"] + 1) if p not in frozen_ports
    ]
    in_use = draw(st.lists(st.sampled_from(free_ports), max_size=5, unique=True))
    return services, in_use


def _conflicted(services, in_use):
    counts = {}
    for spec in services.values():
        counts[spec["port"]] = counts.get(spec["port"], 0) + 1
    return {n for n, s in services.items() if counts[s["port"]] > 1 or s["port"] in in_use}


@settings(max_examples=300, deadline=None)
@given(catalogs())
def test_properties(catalog):
    services, in_use = catalog
    result = reconcile(services, ranges=RANGES, in_use=in_use)
    ports = result["ports"]

    # deterministic, also under a different input order
    assert reconcile(dict(reversed(list(services.items()))), ranges=RANGES, in_use=in_use) == result

    # unique, inside the mover's own range, never on an in-use port
    assert len(set(ports.values())) == len(ports) == len(services)
    for name, port in ports.items():
        old = services[name]["port"]
        own = next(r for r in RANGES if r["start"] <= old <= r["end"])
        assert own["start"] <= port <= own["end"]
        assert port not in in_use

    # a service not in conflict never moves; frozen never moves
    for name in set(services) - _conflicted(services, in_use):
        assert ports[name] == services[name]["port"]
    for name, spec in services.items():
        if spec["frozen"]:
            assert ports[name] == spec["port"]

    # changes are exactly the moved services
    assert {c["service"] for c in result["changes"]} == {
        n for n in services if ports[n] != services[n]["port"]
    }
    assert sorted(result["restart_order"]) == sorted(c["service"] for c in result["changes"])

    # fixed point: feeding the output back changes nothing
    again = {n: dict(s, port=ports[n]) for n, s in services.items()}
    assert reconcile(again, ranges=RANGES, in_use=in_use)["changes"] == []


@settings(max_examples=100, deadline=None)
@given(catalogs())
def test_restart_order_never_starts_on_a_held_port(catalog):
    services, in_use = catalog
    result = reconcile(services, ranges=RANGES, in_use=in_use)
    holding = {c["from"]: c["service"] for c in result["changes"]}
    moved = set()
    for name in result["restart_order"]:
        target = result["ports"][name]
        holder = holding.get(target)
        assert holder is None or holder == name or holder in moved
        moved.add(name)
