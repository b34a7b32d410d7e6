"""Named errors. Each carries one plain sentence the CLI shows to a person instead of a traceback."""

from __future__ import annotations


class FollowupError(Exception):
    """Base class: `str(error)` is a message meant for the user."""


class QueryError(FollowupError):
    """A topic query that cannot be compiled. `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int | None = None, query: str | None = None):
        self.message = message
        self.position = position
        self.query = query
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (at position {self.position + 1})"

    def pointer(self) -> str:
        """The query with a caret under the offending position, for terminals."""
        if self.query is None or self.position is None:
            return ""
        return f"  {self.query}\n  {' ' * self.position}^"


class NotFoundError(FollowupError):
    """A feed, topic or entry the user named does not exist."""


class AlreadyExistsError(FollowupError):
    """A feed or topic the user tried to add is already there."""


class InvalidInputError(FollowupError):
    """Input the user gave (a URL, a date, a file) cannot be used."""


class DatabaseError(FollowupError):
    """The database cannot be reached or is not at the expected schema."""


class DeliveryError(FollowupError):
    """A digest could not be delivered (mail server, webhook or folder); the run is retried."""


class PartialDeliveryError(DeliveryError):
    """A notification URL with several targets reached some of them: sending it again would repeat it to
    those, so it counts as sent, and the failure is reported. `failed`: the positions of the targets that
    failed (to try those alone again)."""

    def __init__(self, message: str, failed: tuple[int, ...] = ()):
        super().__init__(message)
        self.failed = failed
