"""Profiles: one TOML file per exchange account, read into checked frozen classes.

``load`` reads and checks a profile (``load_profile``, ``parse_profile``),
``model`` holds the classes it produces, ``errors`` the problems it reports,
``render`` writes a checked profile back out, ``timeframes`` and ``dates``
convert the bar sizes and ISO dates profiles contain.
"""
