"""``garrison console``: a Textual app that watches and steers running hosts.

The console is a client of a host's control channel and nothing more
(:mod:`garrison.control`): it holds one connection per host, polls the
host's read-only queries and sends the operator's actions. The host never
waits on it; when the console exits, crashes or loses its terminal, the
host only sees a client go away.
"""
