"""How the data readers' messages spell lists, counts and sizes, the same for tables and images."""

from __future__ import annotations

MIB = 1024 * 1024
MAX_LISTED = 10  # longest list of names or classes spelled out in a message


def listing(items: list[str]) -> str:
    """Join names for a message, cutting long lists so that messages stay readable."""
    shown = ", ".join(items[:MAX_LISTED])
    return shown if len(items) <= MAX_LISTED else f"{shown} ... ({len(items) - MAX_LISTED} more)"


def plural(n: int, word: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def size_text(n_bytes: float) -> str:
    return f"{n_bytes / MIB:.1f} MB" if n_bytes >= MIB else f"{int(n_bytes)} bytes"
