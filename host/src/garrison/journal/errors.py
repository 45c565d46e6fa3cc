"""The one error type the journal raises for bad files, bad input and failed writes."""

from __future__ import annotations


class JournalError(Exception):
    """A journal problem; the message names the file, table, key or value at fault."""
