"""plugins/filter/port_map.py: the three public filters in one wrapper style."""
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.filter import port_map
from ansible_collections.hailo.services.plugins.filter.port_map import FilterModule, _filter

FILTERS = FilterModule().filters()
FILTER_DIR = os.path.dirname(port_map.__file__)


def test_the_file_holds_the_three_filters_each_with_its_docs():
    assert sorted(FILTERS) == ["catalog_errors", "port_table", "reconcile_ports"]
    for name, function in FILTERS.items():
        assert function.__name__ == name
        with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
            docs = yaml.safe_load(handle)
        assert docs["DOCUMENTATION"]["name"] == name
        assert docs["DOCUMENTATION"]["version_added"] == "0.1.0"
        assert "hailo.services.%s" % name in docs["EXAMPLES"]
        assert "_value" in docs["RETURN"]


@pytest.mark.parametrize("name, args", [
    ("reconcile_ports", ({"a": {"port": 0}},)),
    ("port_table", ({"ports": {}}, {})),
    ("catalog_errors", ({}, ["not", "a", "mapping"])),
])
def test_errors_are_filter_errors_prefixed_with_the_filter_name(name, args):
    with pytest.raises(AnsibleFilterError) as excinfo:
        FILTERS[name](*args)
    assert str(excinfo.value).startswith(name + ": ")
    assert excinfo.value.__cause__ is not None


def test_the_wrapper_converts_only_the_errors_it_is_given():
    class Known(ValueError):
        pass

    @_filter(Known, "bad input (%s)")
    def some_filter(value):
        """Some filter."""
        if value == "known":
            raise Known("named culprit")
        raise RuntimeError("a bug")

    assert some_filter.__name__ == "some_filter" and some_filter.__doc__ == "Some filter."
    with pytest.raises(AnsibleFilterError, match=r"^some_filter: bad input \(named culprit\)"):
        some_filter("known")
    with pytest.raises(RuntimeError, match="a bug"):
        some_filter("other")


def test_catalog_errors_returns_the_problems():
    catalog_errors = FILTERS["catalog_errors"]
    assert catalog_errors({"hailo-x": {"port": 5005}}) == []
    assert catalog_errors({"hailo-x": {"port": 5005, "state": "off"}},
                          config_mode="own", unit_settings={"Service": {"Bad-Name": 1}}) == [
        "hailo-x: state must be one of enabled, standby, got 'off'",
        "reconcile_config_mode must be one of edit, template, got 'own'",
        "every service (fleet-wide unit settings): [Service] invalid directive name 'Bad-Name' "
        "(must match \\A[A-Za-z][A-Za-z0-9]*\\Z)",
    ]
    assert catalog_errors({"hailo-ocr": {}}, config_defaults={"hailo-ocr": {"ocr": {"languages": []}}},
                          config_settings={"hailo-ocr": {"ocr": {"langauges": ["en"]}}}) == [
        "hailo-ocr: unknown setting ocr.langauges (reconcile_config_settings)"]
