"""qabot: answers from a folder of documents, with exact citations, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Answer", "Citation", "QAEngine", "QabotError", "Settings", "__version__"]

if TYPE_CHECKING:
    from .engine import QAEngine
    from .errors import QabotError
    from .records import Answer, Citation
    from .settings import Settings


def __getattr__(name: str) -> Any:
    # Lazy, so `import qabot` (and `qabot --help`) stays instant.
    if name == "QAEngine":
        from .engine import QAEngine

        return QAEngine
    if name == "Settings":
        from .settings import Settings

        return Settings
    if name in {"Answer", "Citation"}:
        from . import records

        return getattr(records, name)
    if name == "QabotError":
        from .errors import QabotError

        return QabotError
    raise AttributeError(f"module 'qabot' has no attribute {name!r}")
