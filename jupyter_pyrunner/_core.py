"""Start-up-cheap building blocks for the modules on the ``pyrunner run`` path.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``...) and builds
every class with ``exec``; ``hashlib`` initialises OpenSSL. Both cost milliseconds at every
start, so the run path uses these instead.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from _hashlib import HASH
    from typing import ClassVar


class Record:
    """Base of the plain value classes: ``__repr__``, ``__eq__`` and ``__hash__`` from the
    fields named by the subclass's ``_fields`` (in ``__init__`` order), as a dataclass has.

    A subclass says ``_fields = (...)`` then ``__slots__ = _fields``. Mutable subclasses set
    ``__hash__ = None`` (unhashable, as a non-frozen dataclass is).
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())


#: below this size the interpreter's own sha256 beats loading OpenSSL (~3 ms) for ``hashlib``
SMALL_HASH_INPUT = 256 * 1024


def sha256(data: bytes = b"", *, expected_size: int = 0) -> HASH:
    """A sha256 object, the same digest as ``hashlib.sha256`` gives.

    For small inputs (``expected_size`` bytes in all, ``data`` included) the built-in
    implementation is used when ``hashlib`` is not loaded yet: it starts at once, while OpenSSL
    takes milliseconds to load but then hashes several times faster.
    """
    if "hashlib" not in sys.modules and max(expected_size, len(data)) < SMALL_HASH_INPUT:
        import importlib

        for name in ("_sha256", "_sha2"):  # 3.11, 3.12+
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            return module.sha256(data)  # type: ignore[no-any-return]
    import hashlib

    return hashlib.sha256(data)
