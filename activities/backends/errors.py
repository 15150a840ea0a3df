"""Typed errors raised by retrieval backends.

Every error carries ``retryable`` so the tool layer can map it onto Temporal's
``ApplicationError(non_retryable=...)`` without knowing which backend raised it.
Messages are written for the decision agent as much as for people: they name the
offending value and, where it helps, list the valid ones.
"""

from __future__ import annotations

from collections.abc import Sequence


class BackendError(Exception):
    """Base class of every retrieval error; not retryable unless a subclass says so."""

    retryable: bool = False


class BackendUnavailable(BackendError):
    """The store could not be reached or timed out; the same call may succeed later."""

    retryable = True


class BackendClosed(BackendUnavailable):
    """The backend was closed (worker shutting down); another worker may retry the call."""


class PermissionDenied(BackendError):
    """The store rejected the credentials or the operation."""


class QueryFailed(BackendError):
    """The store rejected a query that passed our own validation."""


class InvalidRequest(BackendError):
    """The request does not fit the collection (bad value, wrong type, missing tenant...)."""


class InvalidFilter(InvalidRequest):
    """A filter's operator or value does not fit its property."""


class UnknownCollection(BackendError):
    """The named collection does not exist."""

    def __init__(self, collection: str, available: Sequence[str] = ()) -> None:
        self.collection = collection
        self.available = sorted(available)
        listing = ", ".join(self.available) if self.available else "none"
        super().__init__(f"Unknown collection {collection!r}; available collections: {listing}")


class CollectionExists(BackendError):
    """A collection with that name already exists."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        super().__init__(f"Collection {collection!r} already exists")


class UnknownProperty(InvalidRequest):
    """A request named a property the collection does not have."""

    def __init__(self, collection: str, prop: str, valid: Sequence[str]) -> None:
        self.collection = collection
        self.property = prop
        self.valid = sorted(valid)
        super().__init__(
            f"Unknown property {prop!r} in collection {collection!r}; "
            f"valid properties: {', '.join(self.valid)}"
        )


class UnknownTenant(InvalidRequest):
    """The tenant does not exist in a multi-tenant collection."""

    def __init__(self, collection: str, tenant: str) -> None:
        self.collection = collection
        self.tenant = tenant
        super().__init__(f"Unknown tenant {tenant!r} in collection {collection!r}")


class EmbedderMismatch(InvalidRequest):
    """The collection's vectors were made by a different embedder than the backend's."""

    def __init__(self, collection: str, stored: str, configured: str) -> None:
        self.collection = collection
        super().__init__(
            f"Collection {collection!r} was embedded with {stored!r} but this backend "
            f"embeds with {configured!r}; re-import the collection or configure {stored!r}"
        )
