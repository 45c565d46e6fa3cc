"""The log notifier passes the test kit's NotifierContract."""

from __future__ import annotations

from garrison_api.testing import NotifierContract
from garrison_notify_log import LogNotifier


class TestLogNotifierContract(NotifierContract):
    make_notifier = LogNotifier
