"""Real inotify on a fake /etc: every way tools replace the timezone and locale files."""

import os
import select

import pytest

from agent.sources.host import HostSource
from agent.watchers.base import WatcherError
from agent.watchers.inotify import InotifyWatcher
from tests.monitors.conftest import set_zone


def changes(watcher, timeout=2.0):
    """Wait for the watcher's descriptor and return what it reports."""
    readable, _, _ = select.select([watcher], [], [], timeout)
    return watcher.read() if readable else set()


@pytest.fixture
def watcher(fake_root):
    watcher = InotifyWatcher(HostSource(fake_root), {"timezone", "language"})
    yield watcher
    watcher.close()


def test_localtime_renamed_over(watcher, fake_root):
    set_zone(fake_root, "America/New_York")
    assert changes(watcher) == {"timezone"}


def test_localtime_ln_sf(watcher, fake_root):
    # ln -sf unlinks the old link and creates the new one.
    link = fake_root / "etc" / "localtime"
    link.unlink()
    link.symlink_to("../usr/share/zoneinfo/Asia/Tokyo")
    assert changes(watcher) == {"timezone"}


def test_etc_timezone_written(watcher, fake_root):
    (fake_root / "etc" / "timezone").write_text("Europe/Paris\n")
    assert changes(watcher) == {"timezone"}


def test_locale_conf_replaced(watcher, fake_root):
    staging = fake_root / "etc" / ".locale.conf.tmp"
    staging.write_text("LANG=fr_FR.UTF-8\n")
    os.rename(staging, fake_root / "etc" / "locale.conf")
    assert changes(watcher) == {"language"}


def test_default_locale_written(watcher, fake_root):
    (fake_root / "etc" / "default" / "locale").write_text("LANG=es_ES.UTF-8\n")
    assert changes(watcher) == {"language"}


def test_unrelated_file_ignored(watcher, fake_root):
    (fake_root / "etc" / "hostname").write_text("kiosk-17\n")
    (fake_root / "etc" / "default" / "grub").write_text("GRUB_TIMEOUT=1\n")
    assert changes(watcher, timeout=0.2) == set()


def test_default_created_later(fake_root):
    (fake_root / "etc" / "default" / "locale").unlink()
    (fake_root / "etc" / "default").rmdir()
    watcher = InotifyWatcher(HostSource(fake_root), {"language"})
    try:
        (fake_root / "etc" / "default").mkdir()
        assert changes(watcher) == {"language"}

        (fake_root / "etc" / "default" / "locale").write_text("LANG=pt_BR.UTF-8\n")
        assert changes(watcher) == {"language"}
    finally:
        watcher.close()


def test_only_requested_attributes(fake_root):
    watcher = InotifyWatcher(HostSource(fake_root), {"language"})
    try:
        set_zone(fake_root, "Asia/Kolkata")
        assert changes(watcher, timeout=0.2) == set()
    finally:
        watcher.close()


def test_missing_etc_raises(tmp_path):
    with pytest.raises(WatcherError, match="cannot watch"):
        InotifyWatcher(HostSource(tmp_path / "nothing"), {"timezone"})
