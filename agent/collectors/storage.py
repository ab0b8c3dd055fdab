"""internal_storage: total size in bytes of the file system holding the root."""

import os
import re

from agent.errors import AccessDenied, Unavailable


def internal_storage(source):
    try:
        stats = os.statvfs(source.root)
    except PermissionError:
        raise AccessDenied(f"permission denied reading file system size of {source.root}") from None
    except OSError as error:
        raise Unavailable(f"cannot read file system size of {source.root}: {error.strerror}") from None
    return stats.f_blocks * stats.f_frsize


def external_storage(source):
    """Return the mounted removable volumes as [{"mount_point", "size"}], size in bytes.

    A volume is removable when its disk has removable 1 in sysfs,
    sits on a USB bus, or is an SD card (an mmcblk disk of type SD, not
    eMMC). Each block device is listed once, at its first mount point.
    """
    volumes = {}
    for device, mount_point in mounts(source):
        if not device.startswith("/dev/"):
            continue
        name = block_name(source, device)
        if name in volumes or not source.path(f"/sys/class/block/{name}").exists():
            continue
        if is_removable(source, name):
            volumes[name] = {"mount_point": mount_point, "size": block_size(source, name)}
    return sorted(volumes.values(), key=lambda volume: volume["mount_point"])


def mounts(source):
    """Yield (device, mount point) from /proc/self/mounts, octal escapes such as \\040 decoded."""
    for line in source.read_text("/proc/self/mounts", fallback="").splitlines():
        fields = line.split()
        if len(fields) >= 2:
            yield _unescape(fields[0]), _unescape(fields[1])


def block_name(source, device):
    """Return the kernel name of a mounted device, following links such as /dev/mapper/usb-crypt to dm-0."""
    try:
        target = os.readlink(source.path(device))
    except OSError:
        target = device
    return target.rsplit("/", 1)[-1]


def is_removable(source, name):
    # A device-mapper volume (LUKS, LVM) is removable when the device under it is.
    slaves = source.list_dir(f"/sys/class/block/{name}/slaves")
    if slaves:
        return any(is_removable(source, slave) for slave in slaves)
    disk = parent_disk(source, name)
    if source.read_text(f"/sys/class/block/{disk}/removable", fallback="0") == "1":
        return True
    if disk.startswith("mmcblk") and source.read_text(f"/sys/class/block/{disk}/device/type", fallback="") == "SD":
        return True
    try:
        target = os.readlink(source.path(f"/sys/class/block/{disk}"))
    except OSError:
        return False
    return "/usb" in target


def parent_disk(source, name):
    """Return the disk a partition belongs to (sda for sda1), or the name itself for a disk."""
    if source.path(f"/sys/class/block/{name}/partition").exists():
        try:
            target = os.readlink(source.path(f"/sys/class/block/{name}"))
        except OSError:
            target = ""
        parent = target.rstrip("/").split("/")[-2] if target.count("/") >= 1 else ""
        if parent:
            return parent
    return name


def block_size(source, name):
    # sysfs gives the size in 512-byte sectors whatever the device's sector size.
    sectors = source.read_text(f"/sys/class/block/{name}/size", fallback="0")
    return int(sectors) * 512 if sectors.isdigit() else 0


def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)
