"""Entry point of the ``garrison-telegram`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_telegram.notifier import TelegramNotifier


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``telegram`` notifier."""
    registry.add_notifier("telegram", TelegramNotifier)
