"""garrison-telegram: Telegram alerts with per-priority rate limits, and operator commands.

Nothing here connects anywhere on import: the bot, its thread and its
polling start in :meth:`TelegramNotifier.start`.
"""

from garrison_telegram.commands import CommandRouter, Reply
from garrison_telegram.limits import RateLimiter
from garrison_telegram.notifier import TelegramNotifier, TelegramSendError
from garrison_telegram.params import TelegramParams
from garrison_telegram.priority import Priority, priority_of

__version__ = "0.1.0"

__all__ = [
    "CommandRouter",
    "Priority",
    "RateLimiter",
    "Reply",
    "TelegramNotifier",
    "TelegramParams",
    "TelegramSendError",
    "__version__",
    "priority_of",
]
