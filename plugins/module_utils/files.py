# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""File helpers shared by the host-side modules."""

from __future__ import annotations

import os
import tempfile


def write_atomic(module, path, data):
    """Replace ``path`` with ``data`` (bytes) in one step, keeping its owner and mode.

    The bytes go to a temporary file in the same directory (so the rename cannot cross file
    systems), are flushed to disk, and ``module.atomic_move`` renames it over ``path``: a
    reader sees the old file or the new one, never half of either.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        module.atomic_move(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
