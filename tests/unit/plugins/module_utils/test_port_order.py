# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils/port_order.py: a fake systemd whose services bind when the test says,
and a fake clock, so that who binds first is decided by the test, not by chance."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hailo.services.plugins.module_utils import port_order


def listener(port, unit=None, program="python3", pid=100):
    return {"port": port, "address": "0.0.0.0", "family": "tcp", "pid": pid, "pids": [pid],
            "program": program, "unit": unit}


class FakeDevice:
    """systemctl, a listener source and a clock for one device.

    A started service binds its port ``bind_after[name]`` seconds of fake time after its start
    (never when None), unless the port is taken by then: then it crash-loops without it, as a
    real service does. ``squatters`` hold ports from the start.
    """

    def __init__(self, ports, bind_after=None, squatters=()):
        self.ports = ports
        self.bind_after = bind_after or {}
        self.now = 0.0
        self.calls = []
        self.started = {}  # name -> fake time of its start
        self.bound = []  # listeners, in bind order
        self.bound.extend(squatters)

    # systemctl(*args) -> (rc, output)
    def systemctl(self, *args):
        self.calls.append(" ".join(args))
        if args[0] == "restart":
            name = args[1][:-len(".service")]
            self._settle()
            self.bound = [item for item in self.bound if item["unit"] != args[1]]
            self.started[name] = self.now
        elif args[0] == "stop":
            units = set(args[2:])
            self.bound = [item for item in self.bound if item["unit"] not in units]
            for unit in units:
                self.started.pop(unit[:-len(".service")], None)
        return 0, ""

    def _settle(self):
        """Bind, in start-time order, every started service whose delay has passed."""
        due = sorted((start + self.bind_after.get(name, 0.0), name) for name, start in self.started.items()
                     if self.bind_after.get(name, 0.0) is not None)
        for when, name in due:
            unit = name + ".service"
            port = self.ports[name]
            if when <= self.now and not any(item["port"] == port for item in self.bound):
                self.bound.append(listener(port, unit, "python3", 1000 + len(self.bound)))

    def listeners(self):
        self._settle()
        return list(self.bound)

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds

    def holder(self, port):
        self._settle()
        return [item["unit"] or item["program"] for item in self.bound if item["port"] == port]


PORTS = {"hailo-ocr": 11436, "hailo-depth": 11436, "hailo-pose": 11436, "hailo-clip": 5000}


def test_find_keepers_names_the_unit_that_holds_each_port():
    found = [listener(11436, "hailo-ocr.service"), listener(5000, None, "python3", 7),
             listener(5001, "hailo-scrfd.service"), listener(5001, "other.service")]
    ports = dict(PORTS, **{"hailo-scrfd": 5001})
    assert port_order.find_keepers(ports, found) == {"11436": "hailo-ocr"}


def test_a_slow_keeper_gets_its_port_back_before_the_others_start():
    # The rollback restarts ocr, then depth. ocr binds 8 s after its start, depth at once:
    # in start order alone depth would take 11436 (what a loaded machine showed).
    device = FakeDevice(PORTS, bind_after={"hailo-ocr": 8.0, "hailo-depth": 0.0, "hailo-clip": 0.0})
    report = port_order.start_keepers_first(
        ["hailo-ocr", "hailo-clip", "hailo-depth"], PORTS, {"11436": "hailo-ocr"}, device.systemctl, 20,
        listeners=device.listeners, clock=device.clock, sleep=device.sleep, interval=0.5)
    assert device.holder(11436) == ["hailo-ocr.service"]
    assert report["restarted"] == ["hailo-ocr", "hailo-clip", "hailo-depth"]
    assert device.started["hailo-depth"] >= 8.0  # not before the keeper listened
    assert device.started["hailo-clip"] == 0.0  # a port nobody shares waits for nobody
    assert report["keepers"] == {"11436": "hailo-ocr"}
    assert report["unbound"] == [] and report["held_back"] == []


def test_the_order_alone_would_have_lost_the_port():
    # The same device restarted the old way: proves the test above can fail.
    device = FakeDevice(PORTS, bind_after={"hailo-ocr": 8.0, "hailo-depth": 0.0})
    for name in ("hailo-ocr", "hailo-depth"):
        device.systemctl("restart", name + ".service")
    device.sleep(10)
    assert device.holder(11436) == ["hailo-depth.service"]


def test_a_keeper_that_never_binds_is_reported_and_its_waiters_stay_stopped():
    device = FakeDevice(PORTS, bind_after={"hailo-ocr": None, "hailo-depth": 0.0, "hailo-pose": 0.0},
                        squatters=[listener(11436, None, "nc", 55)])
    report = port_order.start_keepers_first(
        ["hailo-ocr", "hailo-depth", "hailo-pose"], PORTS, {"11436": "hailo-ocr"}, device.systemctl, 5,
        listeners=device.listeners, clock=device.clock, sleep=device.sleep, interval=0.5)
    assert report["restarted"] == ["hailo-ocr"]
    assert "restart hailo-depth.service" not in device.calls
    assert report["unbound"] == [{"name": "hailo-ocr", "port": 11436, "holder": "nc (pid 55)"}]
    assert report["held_back"] == [{"name": "hailo-depth", "port": 11436, "keeper": "hailo-ocr"},
                                   {"name": "hailo-pose", "port": 11436, "keeper": "hailo-ocr"}]
    assert 5.0 <= device.now < 6.0  # the deadline, not longer
    assert port_order.describe_unbound(report) == (
        "hailo-ocr did not bind 11436 in time (held by nc (pid 55)); hailo-depth, hailo-pose left stopped")


def test_a_keeper_that_is_not_restarted_orders_nothing():
    # ocr was not touched by the change: it still holds 11436; depth starts (and loses) as before.
    device = FakeDevice(PORTS, bind_after={"hailo-depth": 0.0})
    report = port_order.start_keepers_first(["hailo-depth"], PORTS, {"11436": "hailo-ocr"}, device.systemctl, 5,
                                            listeners=device.listeners, clock=device.clock, sleep=device.sleep)
    assert report["restarted"] == ["hailo-depth"] and device.now == 0.0


def test_without_keepers_the_order_is_kept():
    device = FakeDevice(PORTS)
    report = port_order.start_keepers_first(["hailo-depth", "hailo-ocr"], PORTS, {}, device.systemctl, 5,
                                            listeners=device.listeners, clock=device.clock, sleep=device.sleep)
    assert device.calls == ["restart hailo-depth.service", "restart hailo-ocr.service"]
    assert report["restarted"] == ["hailo-depth", "hailo-ocr"]


def test_a_failed_start_is_reported():
    def systemctl(*args):
        return (1, "Job for hailo-ocr.service failed") if args[0] == "restart" else (0, "")
    report = port_order.start_keepers_first(["hailo-ocr"], PORTS, {}, systemctl, 1, listeners=list)
    assert report["failed"] == [{"name": "hailo-ocr", "error": "Job for hailo-ocr.service failed"}]


def test_clear_port_waits_for_a_squatter_that_leaves():
    device = FakeDevice({"hailo-depth": 11439}, squatters=[listener(11439, None, "python3", 9)])

    def sleep(seconds):
        device.sleep(seconds)
        if device.now >= 2:
            device.bound = []
    held = port_order.clear_port("hailo-depth", 11439, [], device.systemctl, 10, listeners=device.listeners,
                                 clock=device.clock, sleep=sleep, interval=0.5)
    assert held == [] and 2.0 <= device.now < 3.0


def test_clear_port_returns_the_holder_at_the_deadline():
    device = FakeDevice({"hailo-depth": 11439}, squatters=[listener(11439, None, "python3", 9)])
    held = port_order.clear_port("hailo-depth", 11439, [], device.systemctl, 3, listeners=device.listeners,
                                 clock=device.clock, sleep=device.sleep)
    assert [item["pid"] for item in held] == [9]
    assert device.now >= 3


def test_clear_port_counts_the_services_own_listener_as_clear():
    device = FakeDevice({"hailo-ocr": 11436}, squatters=[listener(11436, "hailo-ocr.service")])
    assert port_order.clear_port("hailo-ocr", 11436, [], device.systemctl, 3, listeners=device.listeners,
                                 clock=device.clock, sleep=device.sleep) == []
    assert device.now == 0


def test_clear_port_stops_a_later_mover_that_still_holds_the_port():
    # Two services trade ports: the second would let go of the first's new port only at its turn.
    ports = {"hailo-a": 5001, "hailo-b": 5000}
    device = FakeDevice(ports, squatters=[listener(5001, "hailo-b.service")])
    held = port_order.clear_port("hailo-a", 5001, ["hailo-b"], device.systemctl, 3, listeners=device.listeners,
                                 clock=device.clock, sleep=device.sleep)
    assert held == []
    assert device.calls == ["stop -- hailo-b.service"]


@pytest.mark.parametrize("report, expected", [
    ({}, None),
    ({"unbound": [{"name": "hailo-ocr", "port": 11436, "holder": None}], "held_back": []},
     "hailo-ocr did not bind 11436 in time"),
])
def test_describe_unbound(report, expected):
    assert port_order.describe_unbound(report) == expected
