"""The address a local server (``mlops catalog --serve``, ``mlops serve``) listens on: whether it
reaches this machine only, and the warning to print when other machines can reach it."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, exposed: str) -> str | None:
    """The warning to print when a server on ``host`` lets other machines reach it, else ``None``;
    ``exposed`` says what anyone could then do, and how to avoid it."""
    if is_loopback(host):
        return None
    return f"serving on {host}, not on a loopback address: anyone who can reach this machine on that address {exposed}"
