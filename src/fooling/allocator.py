"""The C allocator told to keep the memory a search frees, for the next generation.

At ImageNet size a generation allocates and frees about a gigabyte in blocks of
tens of megabytes (images, their 8-bit copies, mutated genomes). glibc's malloc
gives each block over 32 MB back to the system when it is freed, and takes it
again at the next generation, one page fault per 4 kB. On this project's 2-core
virtual machines those faults cost more than the work: a direct search on
EfficientNet-Lite0 ran 1.37x faster, a CPPN one 1.27x, with the memory kept.
The process's memory then stays at its peak, which a search reaches every
generation anyway.

The `fooling` command does this for itself; a program that runs searches
through the API can call `keep_freed_memory` once, or set glibc's own
`MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647`.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
M_MMAP_MAX = -4
MOST = 2**31 - 1  # mallopt takes an int


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed blocks rather than return them to the system.

    Left alone where the user already set glibc's allocator options
    (`MALLOC_*` or `GLIBC_TUNABLES`), and off glibc.

    Returns:
        Whether the allocator was changed.
    """
    if not sys.platform.startswith("linux") or _user_chose():
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no libc.so.6)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # no block from mmap (which is returned on free), and the heap's free top kept
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, MOST))


def _user_chose() -> bool:
    return "GLIBC_TUNABLES" in os.environ or any(key.startswith("MALLOC_") for key in os.environ)
