"""The control channel: a running host's local API, and the client the CLI uses.

A host started by ``garrison run`` serves line-delimited JSON on a Unix
socket (:mod:`garrison.control.protocol`), refuses peers of another user
(:mod:`garrison.control.peer`), journals every command with its caller, and
applies what changes trading at its next step, through the engine's own
paths (:mod:`garrison.control.host`).
"""
