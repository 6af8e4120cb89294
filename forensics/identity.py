"""Who and where: the operator, host and tool version stamped on evidence."""

from __future__ import annotations

import getpass
import socket
from importlib.metadata import PackageNotFoundError, version

TOOL_NAME = "incident-forensics"


def tool_version() -> str:
    """The installed version of this tool."""
    try:
        return version(TOOL_NAME)
    except PackageNotFoundError:
        return "0+unknown"


def host() -> str:
    """This machine's host name."""
    return socket.gethostname()


def operator() -> str:
    """``user@host`` of whoever runs the tool (``FORENSICS_OPERATOR`` overrides the user)."""
    import os

    user = os.environ.get("FORENSICS_OPERATOR")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
    return f"{user}@{host()}"
