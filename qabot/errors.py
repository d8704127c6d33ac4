"""Every error qabot raises on purpose, in one tree. Front ends turn them into one-line messages.

    QabotError                  every error meant for the user; str(err) is the message
    ├── ConfigError             a setting is invalid (bad value, unknown model)
    ├── QuestionError           the question is empty or too long
    ├── SourceError             the seeds folder is missing or holds nothing readable
    │   └── DocumentUnreadable  one PDF or Word file cannot be used (the build names it as skipped)
    ├── DatasetError            an evaluation dataset cannot be read (names the line)
    ├── BuildLocked             another build is writing the same index folder
    ├── BuildInterrupted        a build was stopped; the previous index is untouched
    │   └── InterruptedAfterSwitch  stopped after the switch: the new index is live
    ├── DiskFull                no space left to write the index (nothing left behind)
    ├── QuestionLogMissing      there is no Discord question log to export
    ├── LLMUnavailable          the optional language model failed (down, slow, garbage); answers go on without it
    └── IndexUnusable           the index cannot be used
        ├── IndexMissing        there is no index yet
        ├── IndexCorrupt        files are missing or unreadable
        ├── IndexMismatch       built with another schema or embedder
        └── IndexUnreachable    the index server is down or refused the credentials

Every message says what to do next. No other module defines an error class.
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


class DocumentUnreadable(SourceError):
    """A PDF or Word file cannot be used; str(err) is the reason shown in the skipped-file list."""


class DatasetError(QabotError):
    """An evaluation dataset cannot be read; the message names the line and the problem."""


class BuildLocked(QabotError):
    """Another build holds the index folder's lock."""


class BuildInterrupted(QabotError):
    """A build was interrupted before it switched the index."""


class InterruptedAfterSwitch(BuildInterrupted):
    """A build was interrupted after it switched the index: the new generation is live."""


class DiskFull(QabotError):
    """The disk filled up while writing; the previous index is untouched and nothing is left behind."""


class QuestionLogMissing(QabotError):
    """The bot's question log is off or has not been written yet."""


class LLMUnavailable(QabotError):
    """The optional language model server could not be used for this question."""


class IndexUnusable(QabotError):
    """The index cannot be used."""


class IndexMissing(IndexUnusable):
    """No index has been built in this folder."""


class IndexCorrupt(IndexUnusable):
    """The index files are damaged or incomplete."""


class IndexMismatch(IndexUnusable):
    """The index was built with another schema version or embedder."""


class IndexUnreachable(IndexUnusable):
    """The index server (Milvus) cannot be reached or refused the credentials."""
