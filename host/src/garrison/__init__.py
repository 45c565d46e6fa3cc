"""Garrison: the host. Owns market data, the clock, storage, the risk chain and every order.

Importing this package loads no plugin and touches no file: everything starts
from the CLI (:mod:`garrison.cli`) or from an explicit call.
"""

__version__ = "0.3.0"
