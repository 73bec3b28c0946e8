"""Which addresses only this machine can reach: one rule for the Jobs API address (`automl submit`),
the dashboard's --host (`automl dashboard`) and the dashboard's own access check (ui/lib/auth.py)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str | None) -> bool:
    """True for "localhost" and any address in 127.0.0.0/8 or ::1 (brackets allowed: "[::1]"),
    also as an IPv4-mapped IPv6 address (::ffff:127.0.0.1). False for everything else, including
    an empty or unset host (which means every interface) and names other than localhost."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):  # an IPv6 address as URLs write it
        name = name[1:-1]
    name = name.removesuffix(".")  # the fully qualified "localhost."
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback_url(address: str) -> bool:
    """Whether a URL such as http://127.0.0.1:8265 (or a bare host:port) names this machine."""
    text = address.strip()
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
    except ValueError:  # e.g. an unclosed "[" in the host
        return False
    return is_loopback(host)
