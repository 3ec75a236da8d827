"""Exceptions shared by core/: messages are written for the analyst, not the developer."""


class CargoWatchError(Exception):
    """Bad input or an impossible request, with a message an analyst understands."""


class Cancelled(Exception):
    """The caller asked to stop."""
