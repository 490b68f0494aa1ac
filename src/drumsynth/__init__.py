"""drumsynth: neural drum-sound synthesis toolkit.

Importing the package has no side effects: heavy optional dependencies are imported by the front end
that needs them.
"""

__version__ = "0.1.0"
