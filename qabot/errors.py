"""Errors qabot raises on purpose. Front ends turn them into one-line messages.

    QabotError                  every error meant for the user; str(err) is the message
    ├── ConfigError             a setting is invalid (bad path, unknown model)
    ├── QuestionError           the question is empty or too long
    ├── SourceError             the seeds folder is missing or holds nothing readable
    ├── BuildInterrupted        a build was stopped; the previous index is untouched
    │   └── InterruptedAfterSwitch  stopped after the switch: the new index is live
    ├── DiskFull                no space left to write the index (nothing left behind)
    └── IndexError_             the index cannot be used
        ├── IndexMissing        there is no index yet
        ├── IndexCorrupt        files are missing or unreadable
        └── IndexMismatch       built with another schema or embedder

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


class InterruptedAfterSwitch(BuildInterrupted):
    """A build was interrupted after it switched the index: the new generation is live."""


class DiskFull(QabotError):
    """The disk filled up while writing; the previous index is untouched and nothing is left behind."""


class IndexError_(QabotError):  # noqa: N801 - avoid shadowing the builtin IndexError
    """The index cannot be used."""


class IndexMissing(IndexError_):
    """No index has been built in this folder."""


class IndexCorrupt(IndexError_):
    """The index files are damaged or incomplete."""


class IndexMismatch(IndexError_):
    """The index was built with another schema version or embedder."""
