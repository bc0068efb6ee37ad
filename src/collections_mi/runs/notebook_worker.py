"""The body of a notebook worker: the process a pack spawns to run its notebooks with papermill, each in its own
kernel. Kept apart from runs/pack.py on purpose: a spawned worker imports the module of the function it runs, and
this one imports nothing heavy at the top — the pack's module would cost each worker 1–2 s of imports (Ibis,
plotly, nbformat) it never uses."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Any

from collections_mi.core.imports import skip_unused_slow_imports

# AF_UNIX socket paths are limited to 107 bytes on Linux (103 on macOS); the kernel adds "-<n>"
_IPC_PATH_LIMIT = 100


def kernel_socket_dir(within: str | None = None, *, room: int = 0) -> str | None:
    """A new private folder for a kernel's Unix sockets, its path short enough for AF_UNIX: inside ``within`` (the
    pack's folder of kernel folders, see :func:`kernel_sockets_root`) when given, else in the temporary folder or in
    /tmp (a long $TMPDIR would otherwise put the kernel on TCP, and ipykernel would warn about it on the terminal);
    None where there are no Unix sockets (Windows) or no such folder can be made. ``room``: characters its path must
    leave for folders inside it."""
    if os.name != "posix":
        return None
    for base in (within,) if within is not None else (None, "/tmp"):
        try:
            folder = tempfile.mkdtemp(prefix="cmi-kernel-" if within is None else "k-", dir=base)
        except OSError:
            continue
        if len(folder) + room + 8 <= _IPC_PATH_LIMIT:
            return folder
        os.rmdir(folder)
    return None


def kernel_sockets_root() -> str | None:
    """The folder a pack's notebook workers put their kernels' socket folders in, made by the pack process, which
    removes it when the notebooks end: a worker stopped with the pack (SIGTERM, or SIGKILL when the pack dies) never
    gets to remove its own folder, and each stopped pack left two behind in /tmp. None without Unix sockets."""
    return kernel_socket_dir(room=len("/k-12345678"))  # a worker's folder inside it (mkdtemp: 8 random characters)


def execute_notebook_file(
    source: str, target: str, parameters: dict[str, Any], cwd: str, sockets_root: str | None = None
) -> None:
    """Run one notebook with papermill, writing the executed copy to ``target`` (its kernel's sockets in a folder
    inside ``sockets_root`` when given: :func:`kernel_sockets_root`)."""
    skip_unused_slow_imports()  # before papermill imports nbformat, hence jsonschema
    import papermill  # 1.5 s to import: only a pack that runs notebooks pays it, not `collections-mi metrics`
    from traitlets.config import Config

    # Kernels talk over Unix sockets in a private folder, not TCP: jupyter_client picks TCP ports by asking the OS
    # for a free one and closing it before the kernel binds, so two kernels starting together (three notebooks
    # of one pack, or two packs at once) can pick the same port and one dies ("Address already in use").
    # Sockets in a folder of our own cannot collide, and are not reachable from the network either.
    config = Config()
    socket_dir = kernel_socket_dir(sockets_root)
    if socket_dir is not None:
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(socket_dir, "k")
    else:
        # No Unix sockets here (Windows): the kernel listens on TCP, on 127.0.0.1 only (jupyter_client's default),
        # and ipykernel (kernelapp.py, init_sockets) then logs "Kernel is running over TCP without encryption" to
        # the terminal at every start — once per notebook of every pack. The connection never leaves the machine
        # and every message is signed with the kernel's key; the warning is noise to the person running the pack,
        # so the kernel logs its errors only.
        config.NotebookClient.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
    # The kernel is a child of this worker and writes its own log to the stderr it inherits: at shutdown
    # jupyter_client interrupts it before asking it to stop, and a kernel still answering a message then logs
    # "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." — on the terminal of the person running the pack,
    # about nothing they can act on. What a cell prints reaches the executed notebook over the kernel's channels,
    # not this stream; the stream goes to a file, and only a notebook that failed without an error of its own (the
    # kernel died) shows its last lines.
    with tempfile.TemporaryFile() as kernel_log:
        saved_stderr = os.dup(2)
        os.dup2(kernel_log.fileno(), 2)
        try:
            papermill.execute_notebook(
                source,
                target,
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                cwd=cwd,
                report_mode=False,
                # written once when it ends (or fails: papermill writes the failing cell's error), not after every
                # cell: a notebook holding plotly.js is 5 MB, and its 20 saves were a third of its run
                request_save_on_cell_execute=False,
                config=config,
            )
        except Exception as exc:
            if not getattr(exc, "ename", None):
                kernel_log.seek(0)
                tail = kernel_log.read().decode("utf-8", errors="replace").strip().splitlines()[-5:]
                if tail:
                    exc.add_note("the kernel's last words: " + " | ".join(line.strip() for line in tail))
            raise
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            if socket_dir is not None:
                shutil.rmtree(socket_dir, ignore_errors=True)


def exit_with_parent(parent_pid: int) -> None:
    """Initializer of a notebook worker: die with the pack process. On Linux the kernel sends SIGKILL when the
    parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere a watcher thread exits once the parent is gone."""
    if sys.platform.startswith("linux"):
        try:
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the death signal was asked for
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="exit-with-parent", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)
