"""Whether a streamed run's shards are still the ones it trained on: ``evaluate`` (and explain, export checks) of
a streamed run reads its rows again from the shards and splits them again by a hash of (shard name, row), so a
renamed, added, removed or edited shard changes which rows are "validation" rows.

``dataset.json`` records the shards' names (``streaming.shards``), the SHA-256 over names and contents
(``sha256``) and, since this check, each shard's SHA-256 (``streaming.shard_sha256``), so the change is named.
No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnrun.data.shards import Shards, digest, file_sha256
from nnrun.errors import DataError


def shard_shas(shards: Shards) -> dict[str, str]:
    """Each shard's name in the split (``Shards.key``) -> the SHA-256 of its bytes (unique within a folder or glob)."""
    return {shards.key(p): file_sha256(p) for p in shards.paths}


def describe(meta: dict, shards: Shards) -> tuple[list[str], bool]:
    """What changed in the shards since the run trained on them.

    Args:
        meta: the run's ``dataset.json``. shards: its shards as they are now.

    Returns:
        (the changes in words, empty when none; whether training rows may now count as held-out rows: a shard
        whose trained content is now under another name, renamed or copied, or, for a run that recorded no
        per-shard SHA-256, a shard gone while another appeared).
    """
    now = shard_shas(shards)
    stream = meta.get("streaming") or {}
    if not stream.get("shard_sha256") and digest(shards, list(now.values())) == meta.get("sha256"):
        return [], False  # a run from before per-shard hashes: the dataset's one hash decides
    old_names = list(stream.get("shards") or [])
    old = stream.get("shard_sha256") or {}
    removed = [n for n in old_names if n not in now]
    added = [n for n in now if n not in old_names]
    words, leak = [], False
    if old:
        if now == old:
            return [], False
        by_sha = {sha: name for name, sha in old.items()}
        for name in added:
            was = by_sha.get(now[name])
            if was is not None:  # trained content under a new name
                words.append(f"{was} renamed to {name}" if was in removed else f"{name} is a copy of {was}")
                leak = True
        moved = {by_sha.get(now[n]) for n in added}
        words += [f"{n} removed" for n in removed if n not in moved]
        words += [f"{n} added" for n in added if now[n] not in by_sha]
        for n in now:
            if n in old and old[n] != now[n]:
                was = by_sha.get(now[n])
                if was is not None:  # another shard's trained content under this name (names swapped)
                    words.append(f"{n} now holds what {was} held")
                    leak = True
                else:
                    words.append(f"{n}'s content changed")
    else:
        words += [f"{n} removed" for n in removed] + [f"{n} added" for n in added]
        leak = bool(removed and added)
        if not words:
            words.append("a shard's content changed")
    return words, leak


def check_unchanged(meta: dict, source: Any, warn: Callable[[str], None]) -> None:
    """Warn when a streamed run's shards (or its ``data.validation`` / ``data.test`` files) changed since
    training, as ``evaluate`` of an in-memory run does; refuse when training rows would be counted as
    validation or test rows (a renamed or copied shard: the hash split follows shard names).

    Args:
        meta: the run's ``dataset.json``. source: its ``StreamSource`` (the shards as they are now).
        warn: the warning sink.

    Raises:
        DataError: a shard the run trained on is under a new name (the held-out rows can no longer be trusted).
    """
    words, leak = describe(meta, source.shards)
    what = f"{meta['source']}: the shards changed since training ({'; '.join(words)})"
    if leak:
        raise DataError(f"{what}; the split hashes shard names, so rows the model trained on would count as "
                        "held-out rows. Restore the shards as they were, or evaluate on other data with --data FILE")
    if words:
        warn(f"{what}; the split refers to the old shards")
    for role, info in (meta.get("files") or {}).items():
        shards = source.extra.get(role)
        if shards is not None and info.get("sha256") and digest(shards) != info["sha256"]:
            warn(f"{info['path']} ({role} data) changed since training")
