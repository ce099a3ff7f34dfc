"""CPU time per process over a measured window, from ``/proc`` (Linux).

:class:`CpuMeter` walks the process tree under this process (the Jupyter server and its
kernels, Playwright's driver and the Chromium processes it started), reads each process's
``utime + stime`` at the start and end of a window and reports the difference as a
percentage of one core, grouped by role. It also reports the whole machine's busy time
(``/proc/stat``) so that load from outside the tree shows up as ``other``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, int] | None:
    """``(ppid, utime + stime in ticks)`` of ``pid``, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def cmdline(pid: int) -> list[str]:
    """The arguments of ``pid`` (empty when it is gone).

    Chromium's child processes rewrite their command line as one space-separated string;
    that is split back into arguments.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    args = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    if len(args) == 1 and " --" in args[0]:
        args = args[0].split(" ")
    return args


def process_memory(pid: int) -> dict[str, Any]:
    """RSS in MB, threads and open file descriptors of ``pid`` (None each when it is gone)."""
    out: dict[str, Any] = {"rss_mb": None, "threads": None, "open_files": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "VmRSS":
                out["rss_mb"] = round(int(value.split()[0]) / 1024, 1)
            elif key == "Threads":
                out["threads"] = int(value)
        out["open_files"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = _stat(int(entry.name))
        if st is not None:
            children.setdefault(st[0], []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def chromium_role(args: list[str]) -> str:
    """``chromium:<process type>`` from a Chromium command line (``browser`` for the main)."""
    kind = next((a.split("=", 1)[1] for a in args if a.startswith("--type=")), "browser")
    if kind == "utility":
        sub = next((a.split("=", 1)[1] for a in args if a.startswith("--utility-sub-type=")), "")
        short = sub.split(".")[0] if sub else ""
        return f"chromium:utility:{short}" if short else "chromium:utility"
    return f"chromium:{kind}"


def default_role(pid: int, args: list[str], known: Mapping[int, str]) -> str:
    if pid in known:
        return known[pid]
    if pid == os.getpid():
        return "bench"
    exe = Path(args[0]).name if args else ""
    if "chromium" in exe or "chrome" in exe:
        return chromium_role(args)
    if any("ipykernel" in a for a in args):
        return "kernel"
    if exe == "node" or "playwright" in " ".join(args[:3]):
        return "playwright driver"
    return f"other child ({exe or pid})"


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)  # idle + iowait
    total = sum(parts[:8])  # guest time is already counted in user
    return total - idle, total


@dataclass
class CpuMeter:
    """Measure CPU per role over a window: ``start()``, run the workload, ``stop()``.

    ``known`` names processes by pid (e.g. ``{server_pid: "jupyter server"}``); the others
    are named by :func:`default_role` (``kernel``, ``chromium:<type>``, ...). ``root`` is the
    top of the tree to watch (this process by default).
    """

    known: Mapping[int, str] = field(default_factory=dict)
    root: int = field(default_factory=os.getpid)
    role: Callable[[int, list[str], Mapping[int, str]], str] = default_role
    _t0: float = 0.0
    _ticks0: dict[int, int] = field(default_factory=dict)
    _machine0: tuple[int, int] = (0, 0)
    _load0: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _snapshot(self) -> dict[int, int]:
        out = {}
        for pid in descendants(self.root):
            st = _stat(pid)
            if st is not None:
                out[pid] = st[1]
        return out

    def start(self) -> CpuMeter:
        self._ticks0 = self._snapshot()
        self._machine0 = _machine_ticks()
        self._load0 = os.getloadavg()
        self._t0 = time.monotonic()
        return self

    def stop(self) -> dict[str, Any]:
        """CPU per role in % of one core over the window, plus totals and load averages."""
        wall = time.monotonic() - self._t0
        ticks1 = self._snapshot()
        busy1, total1 = _machine_ticks()
        roles: dict[str, float] = {}
        for pid, t1 in ticks1.items():
            # A process started during the window used all its CPU time in the window.
            used = t1 - self._ticks0.get(pid, 0)
            name = self.role(pid, cmdline(pid), self.known)
            roles[name] = roles.get(name, 0.0) + used
        per_core = 100.0 / (CLOCK_TICKS * wall) if wall > 0 else 0.0
        pct = {k: round(v * per_core, 1) for k, v in sorted(roles.items(), key=lambda kv: -kv[1])}
        chromium = round(sum(v for k, v in pct.items() if k.startswith("chromium")), 1)
        ours = round(sum(pct.values()), 1)
        busy0, total0 = self._machine0
        cores = os.cpu_count() or 1
        machine = None
        with contextlib.suppress(ZeroDivisionError):
            machine = round((busy1 - busy0) / (total1 - total0) * 100 * cores, 1)
        return {
            "window_s": round(wall, 2),
            "unit": "% of one core",
            "cores": cores,
            "by_process": pct,
            "chromium_total": chromium,
            "measured_total": ours,
            "machine_busy": machine,
            # Busy time of processes outside the measured tree (other users, other jobs).
            "outside": None if machine is None else round(max(0.0, machine - ours), 1),
            "loadavg_start": [round(x, 2) for x in self._load0],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
