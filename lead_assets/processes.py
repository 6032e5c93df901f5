"""Is a process still there? For runs a `leads` command executed in process, and the staging
folders of exports, both of which a SIGKILL leaves behind."""
from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a killed child its parent has not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: it exists
        return True
    state = _stat(pid)
    return state is None or state[0] != "Z"


def start_marker(pid: int) -> str | None:
    """Boot id + the kernel's start time of `pid` (clock ticks since boot): a later process that
    reuses the pid has another one. None where /proc is not available (e.g. macOS)."""
    state = _stat(pid)
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    return f"{boot}:{state[1]}" if state else None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) from /proc/<pid>/stat, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], fields[19]    # fields 3 (state) and 22 (starttime) of proc(5)
