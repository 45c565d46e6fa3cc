"""garrison-notify-log: a Garrison notifier that writes events through loguru."""

from garrison_notify_log.notifier import LOGURU_LEVELS, LogNotifier, LogParams

__version__ = "0.1.0"

__all__ = ["LOGURU_LEVELS", "LogNotifier", "LogParams", "__version__"]
