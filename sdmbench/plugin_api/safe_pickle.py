"""Reading pickles without running code from them.

Some datasets ship in pickle format (CIFAR-10's ``cifar-10-batches-py``). A
plain ``pickle.load`` runs whatever callable the file names, so a crafted
file in ``--data-root`` could run arbitrary code. :func:`load_arrays` unpickles with
a :class:`pickle.Unpickler` whose ``find_class`` admits only the callables
in ``allowed`` (by default: what NumPy arrays are rebuilt from); plain
containers, numbers and strings need no callable at all. Anything else is
refused with :class:`UnsafePickle` before it is called.
"""
from __future__ import annotations

import io
import pickle
from typing import IO, Any, FrozenSet, Tuple

#: the callables a pickled NumPy array is rebuilt from (NumPy 1.x and 2.x module names; ``_codecs.encode``
#: turns text back into bytes in pickles that Python 3 wrote at protocol 2 or lower)
NUMPY_ARRAYS: FrozenSet[Tuple[str, str]] = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})


class UnsafePickle(pickle.UnpicklingError):
    """The pickle asks for a callable outside the allowed set."""


class _Restricted(pickle.Unpickler):
    def __init__(self, file: IO[bytes], allowed: FrozenSet[Tuple[str, str]], encoding: str):
        super().__init__(file, encoding=encoding)
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            raise UnsafePickle(f"the file asks to call {module}.{name}, which a data file has no reason to")
        return super().find_class(module, name)


def load_arrays(file: IO[bytes], allowed: FrozenSet[Tuple[str, str]] = NUMPY_ARRAYS, encoding: str = "latin1") -> Any:
    """Unpickle ``file`` calling nothing outside ``allowed``."""
    return _Restricted(file, allowed, encoding).load()


def loads_arrays(data: bytes, allowed: FrozenSet[Tuple[str, str]] = NUMPY_ARRAYS, encoding: str = "latin1") -> Any:
    return load_arrays(io.BytesIO(data), allowed, encoding)
