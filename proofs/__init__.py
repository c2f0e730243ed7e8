"""Proofs of the paper's statements, one file per statement; each exposes `check()` (see README.md)."""
