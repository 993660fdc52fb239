"""The hash cap: how many Argon2id hashes per second the machine gives, with no server at all.

A bare script: pwdlib's default hasher (the one both servers use: Argon2id t=3, m=64 MiB, p=4),
hashing back to back in ``threads`` threads (as many as the server hashes in: one per usable
core) for ``seconds`` seconds. Login (one verification, the same work as one hash) and
registration (one hash) cannot go faster than this on the same cores; issue 23 asks them to
reach 0.9x of it. Run pinned like the server it is compared with::

    taskset -c 0,1 bench/.venvs/fastapi-userkit/bin/python -m bench.hash_cap 2 6

Prints one JSON line: ``{"threads", "seconds", "hashes", "per_second", "parameters"}``.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from pwdlib import PasswordHash

PASSWORD = "Vx7-bench-correct-horse-battery"


def hash_cap(threads: int, seconds: float) -> dict[str, object]:
    """Hash back to back in ``threads`` threads for ``seconds``; the count and rate."""
    hasher = PasswordHash.recommended()
    parameters = hasher.hash(PASSWORD).rsplit("$", 2)[0]  # also warms the library up
    counts = [0] * threads
    started = time.monotonic()
    deadline = started + seconds

    def work(index: int) -> None:
        while time.monotonic() < deadline:
            hasher.hash(PASSWORD)
            counts[index] += 1

    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {
        "threads": threads,
        "seconds": round(elapsed, 2),
        "hashes": sum(counts),
        "per_second": round(sum(counts) / elapsed, 2),
        "parameters": parameters,
    }


if __name__ == "__main__":
    print(json.dumps(hash_cap(int(sys.argv[1]), float(sys.argv[2]))))
