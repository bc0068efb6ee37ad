"""A stop asked for by a signal (Ctrl-C, SIGTERM), remembered.

The command line installs :func:`stop_on` for SIGINT and SIGTERM: it raises ``KeyboardInterrupt`` where the process
is, as Python does for Ctrl-C, and remembers the signal. A library that catches every exception could swallow that
``KeyboardInterrupt`` (a pack under load once ran to the end and published after a Ctrl-C during its notebooks), so
the pack also asks :func:`raise_if_stopped` between its stages, after each notebook and before it publishes: a stop
asked for is never lost, and nothing is published after it.
"""

from __future__ import annotations

from types import FrameType

_RECEIVED: list[int] = []


def stop_on(signum: int, _frame: FrameType | None) -> None:
    """The signal handler: remember ``signum`` and interrupt what runs now."""
    _RECEIVED.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def stop_requested() -> bool:
    """Whether a stop was asked for since the process started (for work in a thread, which no signal interrupts)."""
    return bool(_RECEIVED)


def raise_if_stopped() -> None:
    """``KeyboardInterrupt`` if a stop was asked for since the process started (its handler may have been caught)."""
    if _RECEIVED:
        raise KeyboardInterrupt(f"signal {_RECEIVED[0]}")
