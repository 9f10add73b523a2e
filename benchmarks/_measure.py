"""What the copy benchmarks measure a process by, and the test object they write (not a benchmark itself)."""

from __future__ import annotations

import hashlib
import os

MIB = 1024 * 1024


def peak_rss_mib(pid: int | str = "self") -> float:
    """A process's peak resident memory in MiB, counted from its exec.

    ``getrusage``'s ``ru_maxrss`` is not used: Linux carries it across ``exec``, so a child would report the
    benchmark parent's peak (which holds a generator of the test object) instead of its own. ``VmHWM``
    belongs to the process's current address space only.

    :param pid: the process (this one by default).
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def cpu_seconds(pid: int | str | None = None) -> float:
    """User + system CPU seconds of a process, from /proc/<pid>/stat.

    :param pid: the process (this one when None).
    """
    with open(f"/proc/{pid or 'self'}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PatternReader:
    """A file-like object of ``size`` pseudo-random bytes, made 8 MiB at a time; its MD5 once read.

    :param size: bytes to produce.
    """

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = os.urandom(8 * MIB)
        self.offset = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def read(self, amount: int = -1) -> bytes:
        """Up to ``amount`` bytes.

        :param amount: how many (all that is left when negative).
        """
        amount = self.remaining if amount is None or amount < 0 else min(amount, self.remaining)
        out = bytearray()
        while len(out) < amount:
            take = min(amount - len(out), len(self.block) - self.offset)
            out += self.block[self.offset : self.offset + take]
            self.offset = (self.offset + take) % len(self.block)
        self.remaining -= len(out)
        self.md5.update(out)
        return bytes(out)
