"""Errors qabot raises on purpose. Front ends turn them into one-line messages.

    QabotError                  every error meant for the user; str(err) is the message
    ├── ConfigError             a setting is invalid (bad path, unknown model)
    ├── QuestionError           the question is empty or too long
    ├── SourceError             the seeds folder is missing or holds nothing readable
    ├── BuildInterrupted        a build was stopped; the previous index is untouched
    └── IndexError_             the index cannot be used
        ├── IndexMissing        there is no index yet
        ├── IndexCorrupt        files are missing or unreadable
        ├── IndexMismatch       built with another schema or embedder
        └── IndexUnreachable    the index server is down or refused the credentials

Every message says what to do next.
"""

from __future__ import annotations


class QabotError(Exception):
    """Base class: an error whose message is meant for the user."""


class ConfigError(QabotError):
    """A setting is invalid."""


class QuestionError(QabotError):
    """The question cannot be asked as it is."""


class SourceError(QabotError):
    """The documents cannot be read."""


class BuildInterrupted(QabotError):
    """A build was interrupted before it switched the index."""


class IndexError_(QabotError):  # noqa: N801 - avoid shadowing the builtin IndexError
    """The index cannot be used."""


class IndexMissing(IndexError_):
    """No index has been built in this folder."""


class IndexCorrupt(IndexError_):
    """The index files are damaged or incomplete."""


class IndexMismatch(IndexError_):
    """The index was built with another schema version or embedder."""


class IndexUnreachable(IndexError_):
    """The index server (Milvus) cannot be reached or refused the credentials."""
