"""The filter wrappers: errors surface as AnsibleFilterError naming the culprit."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.filter.port_map import FilterModule as TableFilters
from ansible_collections.hailo.services.plugins.filter.port_map import FilterModule

reconcile_ports = FilterModule().filters()["reconcile_ports"]
port_table = TableFilters().filters()["port_table"]


def test_filter_returns_the_engine_result():
    services = {"hailo-face": {"port": 5002, "frozen": True}, "hailo-piper": {"port": 5002}}
    result = reconcile_ports(services, reserved=[5099])
    assert result["ports"] == {"hailo-face": 5002, "hailo-piper": 5003}
    assert result["restart_order"] == ["hailo-piper"]


@pytest.mark.parametrize(
    "services, kwargs, culprit",
    [
        ({"a": {"port": 1, "frozen": True}, "b": {"port": 1, "frozen": True}}, {}, "a and b"),
        ({"a": {"port": 7860, "frozen": True}}, {"in_use": [7860]}, "frozen service a"),
        ({"a": {"port": 99999}}, {}, "service a: port 99999"),
        ({"bad/name": {"port": 5000}}, {}, "'bad/name'"),
        ([{"name": "x", "port": 5000}, {"name": "x", "port": 5001}], {}, "duplicate service name 'x'"),
        ({"x": {"port": 5000}}, {"ranges": [{"start": 6000, "end": 6001}]}, "service x: port 5000 is outside"),
    ],
)
def test_filter_errors_name_the_culprit(services, kwargs, culprit):
    with pytest.raises(AnsibleFilterError) as excinfo:
        reconcile_ports(services, **kwargs)
    assert culprit in str(excinfo.value)
    assert str(excinfo.value).startswith("reconcile_ports: ")


def test_port_table_lists_every_service_with_old_new_and_reason():
    services = {"hailo-face": {"port": 5002, "frozen": True}, "hailo-piper": {"port": 5002},
                "hailo-clip": {"port": 5000}}
    lines = port_table(reconcile_ports(services), services)
    assert isinstance(lines, list)  # printed one line each by the default callback
    assert lines[0].split() == ["SERVICE", "OLD", "NEW", "REASON"]
    assert lines[1].split()[:4] == ["hailo-clip", "5000", "5000", "unchanged"]
    assert lines[2].split()[:5] == ["hailo-face", "5002", "5002", "kept", "5002"]
    assert lines[3].split()[:3] == ["hailo-piper", "5002", "5003"]
    assert "shared 5002 with frozen hailo-face" in lines[3]
    assert lines[-1] == "3 services, 1 moved: restart order hailo-piper"


def test_port_table_rejects_other_input():
    with pytest.raises(AnsibleFilterError, match="expected the output of reconcile_ports"):
        port_table({"ports": {}}, {})
