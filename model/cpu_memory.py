"""Keep freed memory in the process: the fix for CPU training's superlinear cost at large crops.

glibc's malloc serves every block above its mmap threshold (at most 32 MiB) with a fresh mmap and unmaps it
on free. PyTorch's CPU tensors come straight from malloc, so at 256 px crops (a 64-channel batch-8 feature map
is 67 MB in bf16) every large activation and gradient of every step is new memory: the kernel zero-fills each
4 KiB page on first touch, and those page faults, not the arithmetic, made a 256 px step cost 6.3x a 128 px
step instead of 4x (bench/train_speed.py --malloc default shows it). Telling malloc never to mmap and never to
trim hands the same pages back to the next step: the process keeps its peak memory instead of returning it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4     # mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """mallopt(M_MMAP_MAX, 0) and an unbounded trim threshold; True where glibc took them (Linux), else False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):    # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
