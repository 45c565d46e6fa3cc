"""Entry point of the ``garrison-notify-log`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_notify_log.notifier import LogNotifier


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``log`` notifier."""
    registry.add_notifier("log", LogNotifier)
