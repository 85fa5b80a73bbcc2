"""Real filesystems for the database to fail on: a small tmpfs that fills up, and a
loop-mounted ext4 that the kernel turns read-only under a running program.

Both need root (``mount``); ``unavailable()`` says why they cannot be used here, for a skip.
Why not the cheaper imitations: ``chmod`` does not stop root (the tests' user here) and is
only checked at ``open()`` anyway; ``PRAGMA max_page_count`` from a second connection does not
bind the bot's connection; ``RLIMIT_FSIZE`` fails only writes that grow a file past the limit
(SQLite would see EFBIG rather than ENOSPC); and Linux refuses to remount a filesystem
read-only while a file on it is open for writing (EBUSY), so the one honest way to turn a
live database read-only is the kernel's own reaction to a filesystem error
(``errors=remount-ro``), triggered through ext4's test hook ``trigger_fs_error``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@functools.cache
def unavailable() -> str | None:
    """Why real mounts cannot be used here (``None`` when they can)."""
    if os.geteuid() != 0:
        return "mounting a filesystem needs root"
    if not all(shutil.which(tool) for tool in ("mount", "umount", "mkfs.ext4", "e2fsck")):
        return "mount, umount, mkfs.ext4 or e2fsck is missing"
    with tempfile.TemporaryDirectory() as probe:
        done = _run("mount", "-t", "tmpfs", "-o", "size=1m", "newsbot-chaos-probe", probe)
        if done.returncode != 0:
            return f"cannot mount a tmpfs here: {done.stderr.strip()}"
        _run("umount", probe)
    return None


def _umount(path: Path) -> None:
    if _run("umount", str(path)).returncode != 0:
        _run("umount", "-l", str(path))


@contextlib.contextmanager
def tmpfs(path: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` KiB mounted at ``path`` for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "newsbot-chaos", str(path))
    if done.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        _umount(path)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the filesystem is full; returns the file."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
    # Whatever is left is smaller than a chunk: take it byte by byte.
    with filler.open("ab", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 512)
    return filler


class Ext4:
    """An ext4 image on a loop device, mounted with ``errors=remount-ro``."""

    def __init__(self, image: Path, mountpoint: Path, size_mib: int = 32) -> None:
        self.image = image
        self.mountpoint = mountpoint
        self.size_mib = size_mib
        self.mounted = False

    def create(self) -> None:
        with self.image.open("wb") as out:
            out.truncate(self.size_mib * 1024 * 1024)
        done = _run("mkfs.ext4", "-q", "-F", str(self.image))
        if done.returncode != 0:
            raise RuntimeError(f"mkfs.ext4 failed: {done.stderr.strip()}")
        self.mountpoint.mkdir(parents=True, exist_ok=True)

    def mount(self, *, read_only: bool = False) -> None:
        options = "loop,errors=remount-ro" + (",ro" if read_only else "")
        done = _run("mount", "-o", options, str(self.image), str(self.mountpoint))
        if done.returncode != 0:
            raise RuntimeError(f"cannot mount {self.image}: {done.stderr.strip()}")
        self.mounted = True

    def device(self) -> str:
        """The loop device's name (``loop3``), as in /sys/fs/ext4/."""
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 1 and fields[1] == str(self.mountpoint):
                return Path(fields[0]).name
        raise RuntimeError(f"{self.mountpoint} is not mounted")

    def read_only(self) -> bool:
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[1] == str(self.mountpoint):
                # Newer kernels mark an aborted ext4 "emergency_ro" and keep "rw" shown.
                return bool({"ro", "emergency_ro"} & set(fields[3].split(",")))
        raise RuntimeError(f"{self.mountpoint} is not mounted")

    def fail(self) -> None:
        """An ext4 error, as a failing disk would cause: the kernel makes the filesystem
        read-only at once, with files open for writing on it."""
        hook = Path("/sys/fs/ext4") / self.device() / "trigger_fs_error"
        hook.write_text("newsbot chaos test: simulated disk error\n")

    def repair(self) -> str:
        """Unmount, check and repair; returns e2fsck's report."""
        self.umount()
        done = _run("e2fsck", "-f", "-y", str(self.image))
        if done.returncode not in (0, 1, 2):  # 1 and 2: errors corrected
            raise RuntimeError(f"e2fsck failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def umount(self) -> None:
        if self.mounted:
            _umount(self.mountpoint)
            self.mounted = False
