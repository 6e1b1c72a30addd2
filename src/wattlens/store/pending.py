"""Records that could not be saved: kept in a retry file, saved later — a failed save never loses a record.

``wattlens.measure(db=...)``, ``@wattlens.measured(db=...)`` and ``wattlens measure --db`` save each record
through :func:`save_or_keep`. When the store cannot take it (disk full, database locked past its busy
timeout, server gone), the record is appended to a JSON-lines retry file instead, with the store it was
meant for (its URL with any password masked) and the reason, and the caller gets a :class:`SaveOutcome`
saying so — the meter then warns; it never raises into the user's code. The next successful save to the
same store first saves the records kept for it (oldest first) and removes them from the file.

The file is ``$WATTLENS_RETRY_FILE``, else ``$XDG_STATE_HOME/wattlens/unsaved-records.jsonl`` (default
``~/.local/state/wattlens/``), created with mode 0600. Only the standard library is used here: nothing is
imported until a save fails or a store is opened.

>>> import os, tempfile
>>> os.environ["WATTLENS_RETRY_FILE"] = os.path.join(tempfile.mkdtemp(), "retry.jsonl")
>>> keep("postgresql://u:secret@db/x", {"name": "step", "energy_j": 1.5}, "server closed the connection")
>>> [(e["target"], e["record"]["name"]) for e in kept_records()]
[('postgresql://u:***@db/x', 'step')]
"""

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

ENV_RETRY_FILE = "WATTLENS_RETRY_FILE"


def retry_file() -> str:
    """Where records that could not be saved are kept."""
    explicit = os.environ.get(ENV_RETRY_FILE)
    if explicit:
        return explicit
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "wattlens", "unsaved-records.jsonl")


def mask_password(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db``; other text unchanged.

    >>> mask_password("postgresql://me:pw@127.0.0.1:5432/db"), mask_password("runs.sqlite")
    ('postgresql://me:***@127.0.0.1:5432/db', 'runs.sqlite')
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    if not at or not colon:
        return url
    return f"{scheme}://{user}:***@{host}"


class SaveOutcome:
    """What happened to one record: saved (``saved``), or kept in ``kept_in`` because of ``error``."""

    __slots__ = ("error", "kept_in", "replayed", "saved")

    def __init__(self, saved: bool, error: str | None = None, kept_in: str | None = None, replayed: int = 0) -> None:
        self.saved = saved
        self.error = error
        self.kept_in = kept_in
        self.replayed = replayed  # earlier kept records saved with this one

    def message(self, target: str) -> str:
        """One line for a warning or the CLI."""
        where = mask_password(target)
        if self.saved:
            extra = f" (and {self.replayed} record(s) kept from earlier failed saves)" if self.replayed else ""
            return f"record saved to {where}{extra}"
        kept = f"; the record is kept in {self.kept_in} and will be saved with the next record that reaches it"
        return f"could not save the record to {where}: {self.error}" + (kept if self.kept_in else "; record lost")


def lock(fd: int) -> None:
    """An exclusive advisory lock on an open file (released when it is closed): writers take turns."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
    except (ImportError, OSError):  # Windows, or a file system without locks: best effort
        pass


def append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` to the file open at ``fd`` whole or not at all: a short write (a full disk, a file size
    limit) is truncated away, so a reader never finds half a line."""
    size = os.fstat(fd).st_size
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        os.ftruncate(fd, size)
        raise


def replace_file(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and move it over ``path`` once complete (keeping the
    old file's mode): a full disk or a crash leaves the old file, never half a new one."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def keep(target: str, record: Mapping[str, Any], error: str) -> str:
    """Append ``record`` (meant for ``target``) to the retry file; returns the file's path. Raises OSError
    only if even that is impossible."""
    path = retry_file()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    line = json.dumps(
        {"target": mask_password(target), "kept_unix_s": time.time(), "error": error, "record": record},
        default=str,
        allow_nan=False,
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        lock(fd)  # two processes keeping / replaying at once must not interleave lines
        append_whole(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    return path


def kept_records(target: str | None = None) -> list[dict[str, Any]]:
    """The records kept in the retry file (all, or those meant for ``target``)."""
    path = retry_file()
    try:
        with open(path, encoding="utf-8") as f:
            entries = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    masked = None if target is None else mask_password(target)
    return [e for e in entries if masked is None or e.get("target") == masked]


def _replay(target: str, save: Callable[[Mapping[str, Any]], object]) -> int:
    """Save the records kept for ``target`` and drop them from the file; returns how many were saved."""
    path = retry_file()
    if not os.path.exists(path):
        return 0
    masked = mask_password(target)
    fd = os.open(path, os.O_RDWR)
    try:
        lock(fd)
        with os.fdopen(os.dup(fd), "r", encoding="utf-8") as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        keep_lines, saved = [], 0
        for line in lines:
            entry = json.loads(line)
            if entry.get("target") != masked:
                keep_lines.append(line)
                continue
            try:
                save(entry["record"])
                saved += 1
            except Exception:  # still not possible: stays kept
                keep_lines.append(line)
        if saved:
            replace_file(path, "".join(ln + "\n" for ln in keep_lines))
        return saved
    finally:
        os.close(fd)


def save_or_keep(target: str, record: Mapping[str, Any], save: Callable[[Mapping[str, Any]], object]) -> SaveOutcome:
    """``save(record)``; on any failure keep the record in the retry file. Never raises.

    After a successful save, earlier records kept for the same ``target`` are saved too.
    """
    try:
        save(record)
    except Exception as exc:  # whatever the store raised: the record must survive it
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        try:
            return SaveOutcome(False, error, keep(target, record, error))
        except Exception as keep_exc:  # even the retry file failed: say so, still no exception
            return SaveOutcome(False, f"{error}; retry file unusable too: {keep_exc}")
    try:
        replayed = _replay(target, save)
    except Exception:  # a broken retry file must not turn a successful save into a failure
        replayed = 0
    return SaveOutcome(True, replayed=replayed)
