# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for hailo.services.source_report: see plugins/modules/source_report.py."""

from __future__ import annotations

import time

from ansible import constants as C
from ansible.plugins.action import ActionBase

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import documented_spec
from ansible_collections.hailo.services.plugins.plugin_utils.source_report import (
    SourceReportError,
    is_local,
    report_data,
    report_markdown,
    settings_problems,
    summary_line,
    tree_root,
)

ARGUMENT_SPEC = documented_spec("source_report")


def _default_managed():
    # What the template action put in `ansible_managed` when no variable set it: the
    # (deprecated) ansible_managed setting, strftime applied.
    return time.strftime(C.config.get_config_value("DEFAULT_MANAGED_STR"))


class ActionModule(ActionBase):
    """Check the source_tree role's settings, or build its report, on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[("settings", "result")],
            required_one_of=[("settings", "result")],
            required_by={"result": ("root", "host")},
        )
        result["changed"] = False
        settings = args["settings"]
        if settings is not None:
            local = is_local(settings["host"], settings["connection"])
            problems = settings_problems(settings["max_size"], settings["path"], local, settings["host"],
                                         settings["report"], settings["report_dir"])
            result.update(problems=problems, local=local, root=tree_root(settings["path"], local))
            if problems:
                result["failed"] = True
                result["msg"] = "source_tree: %s." % "; ".join(problems)
            return result
        try:
            data = report_data(args["result"], args["root"], args["moves"], args["host"],
                               self._task.check_mode)
        except (SourceReportError, KeyError, TypeError, AttributeError) as exc:
            result["failed"] = True
            result["msg"] = "source_report: the result of hailo.services.port_references does not fit: %s" % (
                exc if isinstance(exc, SourceReportError) else "missing or malformed %s" % exc)
            return result
        managed = args["managed"] if args["managed"] is not None else _default_managed()
        result.update(report=data, markdown=report_markdown(data, managed), summary=summary_line(data))
        return result
