"""The one error type the project raises for bad input.

Front ends (CLI, OSC, web) turn it into one line for the user; anything else is a bug.
"""


class DrumsynthError(Exception):
    """Bad input or an impossible request; the message names the offending value."""
