"""The pluggy hooks a Garrison plugin may implement.

A plugin distribution points the ``garrison`` entry-point group at a module
that implements some of these hooks with ``@hookimpl``. Only
``garrison_register`` is needed to offer components; the others are broadcasts
for plugins that want to know about the host's life. The trading pipeline is
not a broadcast: the profile picks which components run.

Implementing a hook whose name is not declared here is an error the host
reports against the plugin (a misspelt hook would otherwise never run).
"""

from __future__ import annotations

import pluggy

from garrison_api.registry import Registry
from garrison_api.types import Event

#: The pluggy project name and the entry-point group.
PROJECT_NAME = "garrison"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def garrison_register(registry: Registry) -> None:
    """Offer components to the host.

    Called once per plugin when the host loads plugins, before any profile is
    read. Add each component under the name profiles will use::

        @hookimpl
        def garrison_register(registry):
            registry.add_strategy("turtle", TurtleStrategy)

    Do not start threads, open files or connect anywhere here: a plugin may be
    loaded only to be listed.
    """


@hookspec
def garrison_startup(profile: str, mode: str) -> None:
    """The host has built the pipeline for ``profile`` and is about to run it in ``mode``.

    ``mode`` is ``replay``, ``paper`` or ``live``. A failure here is reported
    and the plugin is left out of the broadcasts; the run goes on.
    """


@hookspec
def garrison_shutdown(profile: str) -> None:
    """The run of ``profile`` has ended (data exhausted, stopped, or failed).

    Release what ``garrison_startup`` acquired. Called even after errors.
    """


@hookspec
def garrison_event(event: Event) -> None:
    """Every event on the host's bus, after it is journaled.

    Keep it fast and non-blocking: it runs in the pipeline's thread. To talk to
    the outside world, register a Notifier instead (it runs asynchronously,
    with a timeout).
    """
