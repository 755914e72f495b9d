# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""safe_files and the journal's use of it, on real files. The tests run as root (the modules do):
a directory "owned by another user" is chowned to uid 1000."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import threading

import pytest

from ansible_collections.hailo.services.plugins.module_utils import safe_files, transaction
from ansible_collections.hailo.services.plugins.module_utils.systemd_unit import mask_environment

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ownership checks need root")


def finishes_within(seconds, func, *args, **kwargs):
    """Run ``func`` in a thread; fail the test when it blocks longer than ``seconds``."""
    outcome = {}

    def target():
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as err:  # re-raised in the test's thread
            outcome["error"] = err
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "%s blocked" % func.__name__
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def etc(tmp_path):
    directory = tmp_path / "etc"
    directory.mkdir(mode=0o755)
    return directory


# --------------------------------------------------------------------------- check_target

def test_a_symlinked_target_is_refused_naming_the_link_and_its_owner(etc, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    link = etc / "copy.json"
    link.symlink_to(elsewhere)
    with pytest.raises(safe_files.UnsafePath) as err:
        safe_files.check_target(str(link))
    assert str(err.value).startswith("%s: refused: it is a symlink (to %s, the link owned by root)" % (link, elsewhere))


def test_a_symlink_inside_root_only_directories_is_followed_when_allowed(etc, tmp_path):
    configs = tmp_path / "opt-configs"
    configs.mkdir(mode=0o755)
    real = configs / "pose.yaml"
    real.write_text("server: {port: 1}\n")
    link = etc / "pose.yaml"
    link.symlink_to(real)
    assert safe_files.check_target(str(link), allow_root_symlinks=True) == str(real)
    os.chown(str(configs), 1000, 1000)  # the target's directory is now another user's
    with pytest.raises(safe_files.UnsafePath) as err:
        safe_files.check_target(str(link), allow_root_symlinks=True)
    assert "outside root's directories" in str(err.value) and "uid 1000" in str(err.value)


def test_a_directory_another_uid_owns_is_refused_naming_the_owner(etc):
    target = etc / "hailo-depth.json"
    target.write_text("{}")
    os.chown(str(etc), 1000, 1000)
    with pytest.raises(safe_files.UnsafePath) as err:
        safe_files.check_target(str(target))
    assert str(err.value).startswith("%s: refused: its directory %s is owned by " % (target, etc))
    assert "uid 1000" in str(err.value)


@pytest.mark.parametrize("mode, gid, refused", [
    (0o775, 0, False),  # group-writable by root's group: fine
    (0o775, 1000, True),
    (0o757, 0, True),
    (0o1777, 0, True),  # sticky does not help the file's own directory
])
def test_group_and_other_writable_directories(etc, mode, gid, refused):
    os.chown(str(etc), 0, gid)
    os.chmod(str(etc), mode)
    target = str(etc / "x.yaml")
    if refused:
        with pytest.raises(safe_files.UnsafePath):
            safe_files.check_target(target)
    else:
        assert safe_files.check_target(target) == target


def test_a_directory_fifo_or_missing_directory_is_named(etc):
    (etc / "dir.yaml").mkdir()
    os.mkfifo(str(etc / "fifo.yaml"))
    with pytest.raises(safe_files.UnsafePath, match=r"dir.yaml: refused: it is a directory \(owned by root\)"):
        safe_files.check_target(str(etc / "dir.yaml"))
    with pytest.raises(safe_files.UnsafePath, match=r"fifo.yaml: refused: it is a FIFO"):
        safe_files.check_target(str(etc / "fifo.yaml"))
    with pytest.raises(safe_files.UnsafePath, match=r"refused: its directory .*/missing does not exist"):
        safe_files.check_target(str(etc / "missing" / "x.json"))


# --------------------------------------------------------------------------- reads

def test_a_fifo_is_refused_without_blocking(etc):
    fifo = etc / "hailo-depth.yaml"
    os.mkfifo(str(fifo))  # nobody writes to it: a plain open() would block forever
    with pytest.raises(safe_files.UnsafePath) as err:
        finishes_within(5, safe_files.read_regular, str(fifo))
    assert "it is a FIFO" in str(err.value) and str(fifo) in str(err.value)


def test_reads_are_bounded_and_do_not_follow_links(etc, tmp_path):
    big = etc / "big.yaml"
    big.write_bytes(b"x" * 101)
    with pytest.raises(safe_files.FileTooLarge, match="101 bytes, more than the 100-byte limit"):
        safe_files.read_regular(str(big), limit=100)
    assert safe_files.read_regular(str(big), limit=101)[0] == b"x" * 101
    secret = tmp_path / "secret"
    secret.write_text("s")
    (etc / "link").symlink_to(secret)
    with pytest.raises(safe_files.UnsafePath, match="symlink"):
        safe_files.read_regular(str(etc / "link"))
    assert safe_files.read_or_none(str(etc / "none")) is None


# --------------------------------------------------------------------------- writes

def test_a_write_keeps_setuid_mode_and_owner(etc):
    target = etc / "tool"
    target.write_bytes(b"old")
    os.chown(str(target), 1000, 1000)
    os.chmod(str(target), 0o4755)
    safe_files.write_file(str(target), b"new")
    info = os.stat(str(target))
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(info.st_mode) == 0o4755 and (info.st_uid, info.st_gid) == (1000, 1000)
    assert os.listdir(str(etc)) == ["tool"]


def test_a_planted_symlink_at_the_temp_name_is_never_followed(etc, tmp_path, monkeypatch):
    target = etc / "hailo-depth.json"
    target.write_text("{}")
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    planted = etc / (".hailo-depth.json.%s.tmp" % (b"\x00" * 6).hex())
    planted.symlink_to(victim)
    names = iter([b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(safe_files.os, "urandom", lambda n: next(names))
    safe_files.write_file(str(target), b'{"a": 1}')
    assert victim.read_text() == "untouched" and planted.is_symlink()
    assert target.read_bytes() == b'{"a": 1}'


def test_a_failed_write_leaves_the_target_and_no_temp_file(etc, monkeypatch):
    target = etc / "x.yaml"
    target.write_bytes(b"old")

    def refuse(*args, **kwargs):
        raise OSError(1, "Operation not permitted")
    monkeypatch.setattr(safe_files.os, "rename", refuse)
    with pytest.raises(OSError):
        safe_files.write_file(str(target), b"new")
    assert target.read_bytes() == b"old" and os.listdir(str(etc)) == ["x.yaml"]


def test_a_symlink_or_directory_at_the_target_is_not_replaced(etc, tmp_path):
    (etc / "d").mkdir()
    (etc / "l").symlink_to(tmp_path / "victim")
    for name in ("d", "l"):
        with pytest.raises(safe_files.UnsafePath):
            safe_files.write_file(str(etc / name), b"x")
    assert not (tmp_path / "victim").exists()


# --------------------------------------------------------------------------- journal

def test_the_journal_directory_must_be_absolute_and_root_only(tmp_path):
    with pytest.raises(safe_files.UnsafePath, match="not an absolute path"):
        safe_files.check_journal_dir("var/lib/x")
    parent = tmp_path / "var"
    parent.mkdir(mode=0o755)
    safe_files.check_journal_dir(str(parent / "journal"))  # not made yet: root makes it
    os.chown(str(parent), 1000, 1000)
    with pytest.raises(safe_files.UnsafePath) as err:
        safe_files.check_journal_dir(str(parent / "journal"))
    assert "journal directory" in str(err.value) and str(parent) in str(err.value) and "uid 1000" in str(err.value)
    with pytest.raises(transaction.JournalError, match="uid 1000"):
        transaction.begin(str(parent / "journal"), "1-a", [], {})


def _journal(tmp_path):
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir(mode=0o700)
    config = tmp_path / "etc" / "x.yaml"
    config.parent.mkdir(mode=0o755)
    config.write_bytes(b"server: {port: 1}\n")
    journal = transaction.begin(str(journal_dir), "1-a", [str(config)], {})
    config.write_bytes(b"server: {port: 2}\n")
    return journal_dir, journal, config


def test_a_journal_restores_a_declared_entry(tmp_path):
    journal_dir, journal, config = _journal(tmp_path)
    report = transaction.revert(str(journal_dir), journal, "test")
    assert report["errors"] == [] and config.read_bytes() == b"server: {port: 1}\n"


@pytest.mark.parametrize("tamper, why", [
    (lambda e, t: e.update(path="etc/x.yaml"), "not an absolute, normalised path"),
    (lambda e, t: e.update(path=e["path"].replace("/etc/", "/etc/../etc/")), "not an absolute, normalised path"),
    (lambda e, t: e.update(saved="../x"), "not a name the journal gives"),
    (lambda e, t: e.update(path=str(t / "other")), "was not declared by the change"),
])
def test_a_tampered_journal_entry_is_refused(tmp_path, tamper, why):
    journal_dir, journal, config = _journal(tmp_path)
    (tmp_path / "x").write_bytes(b"planted")
    tamper(journal["files"][0], tmp_path)
    report = transaction.revert(str(journal_dir), journal, "test")
    assert len(report["errors"]) == 1 and why in report["errors"][0]
    assert config.read_bytes() == b"server: {port: 2}\n"  # nothing restored from a refused entry
    assert json.loads((journal_dir / "journal.json").read_text())["stage"] == "revert_failed"


def test_a_saved_original_outside_the_journal_is_refused(tmp_path):
    journal_dir, journal, config = _journal(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "0").write_bytes(b"planted")
    saved = journal_dir / "saved"
    for name in os.listdir(str(saved)):
        os.unlink(str(saved / name))
    saved.rmdir()
    saved.symlink_to(outside)
    report = transaction.revert(str(journal_dir), journal, "test")
    assert "not inside the journal" in report["errors"][0]
    assert config.read_bytes() == b"server: {port: 2}\n"


# --------------------------------------------------------------------------- backups

def test_pruning_removes_only_roots_regular_backup_files(etc):
    names = ["x.yaml.%d.2026-01-0%d@10:00:00~" % (100 + day, day) for day in range(1, 6)]
    for index, name in enumerate(names):
        (etc / name).write_text(name)
        os.utime(str(etc / name), (1000 + index, 1000 + index))
    os.chown(str(etc / names[0]), 1000, 1000)  # another user's file with the backup name
    (etc / "x.yaml.old~").write_text("not ours")
    (etc / "x.yaml.1.2025-01-01@00:00:00~").symlink_to(etc / "x.yaml.old~")
    assert safe_files.prune_backups(str(etc), "x.yaml", 2) == []
    assert sorted(os.listdir(str(etc))) == sorted([names[0], names[3], names[4], "x.yaml.old~",
                                                   "x.yaml.1.2025-01-01@00:00:00~"])


def test_pruning_never_raises():
    assert safe_files.prune_backups("/nonexistent/dir", "x", 1)


def test_temp_names_never_look_like_backups():
    assert not safe_files.is_backup_name(".x.yaml.000000000000.tmp", "x.yaml")
    assert safe_files.is_backup_name(safe_files.backup_name("x.yaml"), "x.yaml")


# --------------------------------------------------------------------------- masking

def test_masking_hides_environment_values():
    unit = ('[Service]\nEnvironment=TOKEN=secret HAILO_PRINT_TO_SYSLOG=1\n'
            'Environment="API_KEY=a b" X="y z"\nExecStart=/bin/x --token=keep\n')
    masked = mask_environment(unit)
    assert "secret" not in masked and "a b" not in masked and "y z" not in masked
    assert "Environment=TOKEN=*** HAILO_PRINT_TO_SYSLOG=***" in masked
    assert 'Environment="API_KEY=***" X=***' in masked
    assert "ExecStart=/bin/x --token=keep" in masked
