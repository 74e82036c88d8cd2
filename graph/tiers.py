"""One cache interface: the small protocol every executor talks to, and tiers of it.

An executor needs four things from a cache, and nothing else:

    name                      'memory', 'disk', ... (the stats status of a hit)
    get(key) -> result|None   a node result {output: read-only float32 array}
    put(key, result)          store it (a tier may refuse: too big, over budget)
    swap_record(slot, record) -> the previous record or None; stores `record`
                              (the canonical key parts of a node, for "why recomputed")
    keeps_records             True when swap_record remembers across runs

`Tiers` composes caches fastest first: a hit in a slower tier is promoted into the
faster ones, a put goes to every tier, records go to the tiers that keep them. The
memory cache (graph.cache.MemoryCache) and the disk cache (graph.cache.DiskCache, whose
entry format lives in graph/cache.py) are wrapped here, not changed: `MemoryTier` and
`DiskTier` adapt them to the protocol, and DiskTier keeps the records in the cache's
`records/` folder (atomic JSON files), so no other code writes into that folder.
"""
from __future__ import annotations

import json
import os
from typing import Protocol

from graph import cache as caching


class CacheTier(Protocol):
    name: str
    keeps_records: bool

    def get(self, key: str) -> dict | None: ...

    def put(self, key: str, result: dict) -> None: ...

    def swap_record(self, slot: str, record: dict) -> dict | None: ...


class MemoryTier:
    """A MemoryCache (the process-wide LRU by default) as a tier; it keeps no records."""

    name = "memory"
    keeps_records = False

    def __init__(self, memory: caching.MemoryCache):
        self.memory = memory

    def get(self, key):
        return self.memory.get(key)

    def put(self, key, result):
        self.memory.put(key, result)

    def swap_record(self, slot, record):
        return None


class OnlyKeys:
    """A tier that sees only `keys` (gets miss, puts are dropped for any other key).

    A render of a frame range (local, or each frame on a Dask worker) gives its memory
    tier only the results several frames need (`Plan.shared_keys`: a static subgraph):
    caching each frame's own results there would keep every frame-sized array alive, so
    each new one is fresh memory whose pages fault in again (measured on a 1080p graph:
    the masked grade 12 ms a frame with memory recycled, 150-330 ms on fresh pages)."""

    def __init__(self, tier, keys):
        self.tier, self.keys = tier, frozenset(keys)
        self.name, self.keeps_records = tier.name, tier.keeps_records

    def get(self, key):
        return self.tier.get(key) if key in self.keys else None

    def put(self, key, result):
        if key in self.keys:
            self.tier.put(key, result)

    def swap_record(self, slot, record):
        return self.tier.swap_record(slot, record)


def memory_only_for(tiers: "Tiers", keys) -> "Tiers":
    """`tiers` with its memory tiers limited to `keys` (OnlyKeys); other tiers as they are."""
    return Tiers([OnlyKeys(tier, keys) if isinstance(tier, MemoryTier) else tier
                  for tier in tiers.tiers])


class DiskTier:
    """A DiskCache folder as a tier; records live in `<folder>/records/<slot>.json`."""

    name = "disk"
    keeps_records = True

    def __init__(self, disk: caching.DiskCache):
        self.disk = disk

    def get(self, key):
        return self.disk.get(key)

    def put(self, key, result):
        self.disk.put(key, result)

    def swap_record(self, slot, record):
        path = os.path.join(self.disk.directory, "records", slot + ".json")
        try:
            with open(path) as handle:
                previous = json.load(handle)
        except (OSError, ValueError):
            previous = None
        self.disk.write_record(slot, record)
        return previous


class Tiers:
    """Caches fastest first, used as one (see the module docstring)."""

    def __init__(self, tiers=()):
        self.tiers = [tier for tier in tiers if tier is not None]

    @property
    def keeps_records(self) -> bool:
        return any(tier.keeps_records for tier in self.tiers)

    def lookup(self, key: str) -> tuple[dict | None, str | None]:
        """(result, name of the tier that had it), or (None, None)."""
        for index, tier in enumerate(self.tiers):
            result = tier.get(key)
            if result is not None:
                for faster in self.tiers[:index]:
                    faster.put(key, result)
                return result, tier.name
        return None, None

    def put(self, key: str, result: dict) -> None:
        for tier in self.tiers:
            tier.put(key, result)

    def memories(self) -> list:
        """The MemoryCaches behind the memory tiers (an OnlyKeys one included)."""
        found = []
        for tier in self.tiers:
            tier = tier.tier if isinstance(tier, OnlyKeys) else tier
            if isinstance(tier, MemoryTier):
                found.append(tier.memory)
        return found

    def swap_record(self, slot: str, record: dict) -> dict | None:
        previous = None
        for tier in self.tiers:
            if tier.keeps_records:
                found = tier.swap_record(slot, record)
                previous = previous if previous is not None else found
        return previous


def default_tiers(cache_dir: str | None = None, memory="default") -> Tiers:
    """The usual tiers: the process memory cache (None: none) and, with a folder (or
    $MASKGRAPH_CACHE_DIR), the disk cache. A CacheTier passed as `memory` is used as is."""
    if memory == "default":
        memory = caching.MEMORY
    cache_dir = cache_dir or os.environ.get(caching.CACHE_DIR_ENV)
    tiers = []
    if memory is not None:
        tiers.append(MemoryTier(memory) if isinstance(memory, caching.MemoryCache) else memory)
    if cache_dir:
        tiers.append(DiskTier(caching.DiskCache(cache_dir)))
    return Tiers(tiers)
