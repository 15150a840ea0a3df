"""Deterministic process exit for commands that used the Temporal client."""

from __future__ import annotations

import contextlib
import logging
import os
import sys


def exit_now(code: int) -> None:
    """Flush everything, then leave without running interpreter finalisation.

    The Temporal SDK's Rust runtime threads may outlive Python's finalisation and
    abort the process (`PyGILState_Release`, exit 134) after all work is done; see
    temporalio/sdk-python issue #300. Our work is finished and flushed here, so
    skipping finalisation loses nothing and makes the exit code the real one.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
