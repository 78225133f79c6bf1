"""Figures about the running process, for benchmark workers and tests that measure memory."""

from __future__ import annotations

import resource

__all__ = ["peak_rss_kb"]


def peak_rss_kb() -> int:
    """This process's peak resident set size in KiB.

    ``VmHWM`` belongs to the process's own address space, which starts afresh at exec;
    ``ru_maxrss`` (the fallback off Linux) keeps the parent's RSS at fork time, so a large
    parent would leak into every worker's figure.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
