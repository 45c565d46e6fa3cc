"""Following hosts through Redis: each host publishes its state, a console reads them all.

- :mod:`garrison.follow.address`: Redis URLs, checked and shown without a password.
- :mod:`garrison.follow.keys`: the keys a host writes, and the shape of what it writes.
- :mod:`garrison.follow.beacon`: the host's side, publishing on the control thread.
- :mod:`garrison.follow.directory`: the console's side, finding and reading hosts.
"""
