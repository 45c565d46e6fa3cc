"""garrison-turtle: classic Turtle System 1 and System 2 breakouts for Garrison."""

from garrison_turtle.params import SYSTEM_PERIODS, TurtleParams
from garrison_turtle.strategy import TurtleStrategy

__version__ = "0.1.0"

__all__ = ["SYSTEM_PERIODS", "TurtleParams", "TurtleStrategy", "__version__"]
