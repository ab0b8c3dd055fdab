"""internal_storage and external_storage on fake trees and against df."""

import os
import shutil
import subprocess

import pytest
from hosttree import Symlink

from agent.capture import capture
from agent.collectors import storage
from agent.sources.host import HostSource

MOUNTS = """/dev/nvme0n1p2 / ext4 rw,relatime 0 0
/dev/nvme0n1p1 /boot/efi vfat rw 0 0
/dev/sda1 /media/alice/USB\\040STICK vfat rw,nosuid,nodev 0 0
/dev/mmcblk0p1 /media/sd exfat rw 0 0
/dev/mmcblk1p1 /data ext4 rw 0 0
/dev/sdb1 /srv ext4 rw 0 0
/dev/sda1 /mnt/again vfat rw 0 0
tmpfs /run tmpfs rw 0 0
"""


def block(root, name, parent, bus="pci0000:00/0000:00:14.0", removable="0", size="0", kind=None):
    """Return tree entries for a disk and its first partition under /sys/devices."""
    device = f"/sys/devices/{bus}/block/{parent}"
    tree = {
        f"{device}/removable": removable + "\n",
        f"{device}/{name}/partition": "1\n",
        f"{device}/{name}/size": size + "\n",
        f"/sys/class/block/{parent}": Symlink(f"{root}{device}"),
        f"/sys/class/block/{name}": Symlink(f"{root}{device}/{name}"),
    }
    if kind:
        tree[f"{device}/device/type"] = kind + "\n"
    return tree


def test_external_storage_finds_removable_volumes(host, tmp_path):
    root = tmp_path / "root"
    tree = {"/proc/self/mounts": MOUNTS}
    tree.update(block(root, "nvme0n1p2", "nvme0n1", size="1000000"))
    tree.update(block(root, "sda1", "sda", bus="pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0", size="60000000"))
    tree.update(block(root, "mmcblk0p1", "mmcblk0", bus="platform/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa", size="125000000", kind="SD"))
    tree.update(block(root, "mmcblk1p1", "mmcblk1", bus="platform/fe310000.mmc/mmc_host/mmc1/mmc1:0001", size="30000000", kind="MMC"))
    tree.update(block(root, "sdb1", "sdb", removable="1", size="2000"))
    source = host(tree)

    assert capture(source, "external_storage").value == [
        {"mount_point": "/media/alice/USB STICK", "size": 60000000 * 512},
        {"mount_point": "/media/sd", "size": 125000000 * 512},
        {"mount_point": "/srv", "size": 2000 * 512},
    ]


def test_emulate_encrypted_usb_stick(host, tmp_path):
    root = tmp_path / "root"
    tree = {
        "/proc/self/mounts": "/dev/mapper/luks-5f2a /media/alice/secret ext4 rw 0 0\n",
        "/dev/mapper/luks-5f2a": Symlink("../dm-0"),
        "/sys/class/block/dm-0/size": "4000000\n",
        "/sys/class/block/dm-0/slaves/sdc1": None,
    }
    tree.update(block(root, "sdc1", "sdc", bus="pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host3/target3:0:0/3:0:0:0", size="4000100"))
    source = host(tree)

    assert capture(source, "external_storage").value == [{"mount_point": "/media/alice/secret", "size": 4000000 * 512}]


def test_external_storage_none_mounted(host):
    assert capture(host({"/proc/self/mounts": "/dev/vda1 / ext4 rw 0 0\n"}), "external_storage").value == []


def test_against_lsblk():
    if shutil.which("lsblk") is None:
        pytest.skip("lsblk is not installed (Debian package util-linux)")
    output = subprocess.run(["lsblk", "--noheadings", "--list", "--output", "NAME,RM,MOUNTPOINT"], capture_output=True, text=True).stdout
    removable_mounts = {fields[2] for fields in (line.split() for line in output.splitlines()) if len(fields) >= 3 and fields[1] == "1"}
    found = {volume["mount_point"] for volume in capture(HostSource(), "external_storage").value}

    assert removable_mounts <= found


def test_against_df():
    if shutil.which("df") is None:
        pytest.skip("df is not installed (Debian package coreutils)")
    output = subprocess.run(["df", "--block-size=1", "--output=size", "/"], capture_output=True, text=True, check=True).stdout.split()

    assert capture(HostSource(), "internal_storage").value == int(output[1])
    assert storage.internal_storage(HostSource()) == os.statvfs("/").f_blocks * os.statvfs("/").f_frsize
