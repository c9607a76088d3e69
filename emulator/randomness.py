"""One seedable source for every random choice the emulator makes.

With ``--seed`` the same inputs give the same ids, behaviours and replies.
Subsystems take their own child generator with :meth:`RandomSource.child`, so
adding draws in one subsystem does not shift the sequence of another.
"""

from __future__ import annotations

import hashlib
import random
import uuid


class RandomSource:
    """A seeded (or, without a seed, OS-seeded) random generator with helpers."""

    def __init__(self, seed: int | None = None, *, label: str = "root") -> None:
        self.seed = seed
        self.label = label
        if seed is None:
            self.random = random.Random()
        else:
            digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
            self.random = random.Random(int.from_bytes(digest[:8], "big"))

    def child(self, label: str) -> RandomSource:
        """Return an independent generator for one subsystem."""
        return RandomSource(self.seed, label=f"{self.label}/{label}")

    def uuid4(self) -> str:
        """Return a lower-case UUID version 4 string."""
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def token_bytes(self, size: int) -> bytes:
        return self.random.getrandbits(size * 8).to_bytes(size, "big")
