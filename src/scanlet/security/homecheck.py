"""Is the home folder safe to use? Owner and mode of the home, ``keys/``, ``cert/`` and the
files in them that Scanlet trusts.

Why: the home holds the page-encryption key, the API-key database, the HTTPS key, the local
CA that ``scanlet cert install`` puts into trust stores, and the config that lists allowed
origins. If another user owns one of these folders, or may write to it, that user can read
the keys or swap what Scanlet trusts (a CA, an allowed origin). So, like OpenSSH with
``~/.ssh``, Scanlet refuses such a home (:class:`~scanlet.errors.UnsafeHome`, naming the path,
its owner and mode, and the fix) instead of using it without a word.

The rules (POSIX only; Windows homes are left to their ACLs):

- *Trusted owners*: you, root, and under ``sudo`` (root with ``SUDO_UID``) the invoking user,
  so that ``sudo scanlet cert install --system --home ~you/...`` still works.
- The home, ``keys/``, ``cert/``, ``cache/``, ``log/``, ``dump/``, ``upload/``, the config
  and identity files, ``cert/ca.pem``, ``cert/server.key`` and every file in ``keys/`` must
  belong to a trusted owner and must not be writable by group or others: refused otherwise.
- Reading is not the threat for the home itself (a 0755 home keeps working), but it is for
  secrets: ``keys/`` and ``cert/`` must be 0700 and key files 0600. Scanlet creates them so;
  when it finds them wider and they belong to you, it narrows them itself (logged at INFO).
- A symlink is judged by what it points to, and that target's parent folder must not be
  writable by others (unless sticky, like ``/tmp``) nor belong to an untrusted user: else
  another user could swap the target. The home's own parent gets the same check.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from scanlet.config import Home
from scanlet.errors import UnsafeHome

try:
    import pwd
except ImportError:  # pragma: no cover - Windows
    pwd = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
_READABLE_BY_OTHERS = 0o077


@dataclass(frozen=True)
class HomeProblem:
    """One unsafe path: what is wrong, how to fix it; ``fatal`` False means Scanlet narrows
    the mode itself (a secret readable by others, owned by you)."""

    path: Path
    text: str
    fix: str
    fatal: bool = True

    def error(self) -> UnsafeHome:
        return UnsafeHome(f"{self.text}; refusing to use it: {self.fix}", path=str(self.path),
                          fix=self.fix)


def supported() -> bool:
    return hasattr(os, "geteuid")


def trusted_uids() -> frozenset[int]:
    """You, root, and the user who ran ``sudo`` (only when running as root)."""
    euid = os.geteuid()
    uids = {euid, 0}
    sudo_uid = os.environ.get("SUDO_UID", "")
    if euid == 0 and sudo_uid.isdigit():
        uids.add(int(sudo_uid))
    return frozenset(uids)


def _user(uid: int) -> str:
    if pwd is not None:
        with contextlib.suppress(KeyError):
            return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    return f"uid {uid}"


def _owner_fix(path: Path, is_dir: bool) -> str:
    me = pwd.getpwuid(os.geteuid()).pw_name if pwd is not None else str(os.geteuid())
    flag = "-R " if is_dir else ""
    return (f"if it is yours, `sudo chown {flag}{me} {path}`; otherwise use another "
            "--home (or $SCANLET_HOME)")


def inspect_path(path: Path, *, secret: bool = False) -> list[HomeProblem]:
    """Problems of one folder or file (none when it does not exist). ``secret``: must be
    0700 (folder) or 0600 (file)."""
    if not supported():  # pragma: no cover - Windows
        return []
    try:
        st = path.stat()  # follows a symlink: what is used is the target
        is_link = path.is_symlink()
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [HomeProblem(path, f"{path} cannot be inspected ({exc.strerror})",
                            "check its permissions")]
    is_dir = stat.S_ISDIR(st.st_mode)
    mode = stat.S_IMODE(st.st_mode)
    shown = f"{path} -> {path.resolve()}" if is_link else str(path)
    problems: list[HomeProblem] = []
    if st.st_uid not in trusted_uids():
        problems.append(HomeProblem(
            path, f"{shown} belongs to {_user(st.st_uid)}, not to you, {_user(os.geteuid())},"
            f" so that user can read or replace what Scanlet keeps there",
            _owner_fix(path, is_dir)))
    if mode & _WRITABLE_BY_OTHERS:
        wanted = 0o700 if is_dir else 0o600
        problems.append(HomeProblem(
            path, f"{shown} is writable by {_writers(mode)} (mode {mode:04o}, owner "
            f"{_user(st.st_uid)})",
            f"`chmod {wanted:o} {path}`" if secret else f"`chmod go-w {path}`"))
    if is_link:
        problems += _parent_problems(path, path.resolve().parent, shown)
    if not problems and secret and mode & _READABLE_BY_OTHERS:
        wanted = 0o700 if is_dir else 0o600
        problems.append(HomeProblem(
            path, f"{shown} is readable by others (mode {mode:04o})", f"`chmod {wanted:o} "
            f"{path}` (Scanlet does this itself when the file is yours)", fatal=False))
    return problems


def _writers(mode: int) -> str:
    if mode & stat.S_IWGRP and mode & stat.S_IWOTH:
        return "group and others"
    return "others" if mode & stat.S_IWOTH else "its group"


def _parent_problems(path: Path, parent: Path, shown: str | None = None
                     ) -> list[HomeProblem]:
    """The folder holding ``path`` (or its symlink target): others must not be able to rename
    or replace entries in it (a sticky folder like /tmp is fine)."""
    try:
        st = parent.stat()
    except OSError:
        return []
    mode = stat.S_IMODE(st.st_mode)
    if mode & stat.S_ISVTX:
        return []
    where = shown or str(path)
    if mode & _WRITABLE_BY_OTHERS:
        return [HomeProblem(path, f"{where} lies in {parent}, which others can write (mode "
                                  f"{mode:04o}), so they can replace it",
                            f"`chmod go-w {parent}`, or move the folder elsewhere")]
    if st.st_uid not in trusted_uids():
        return [HomeProblem(path, f"{where} lies in {parent}, which belongs to "
                                  f"{_user(st.st_uid)}, so that user can replace it",
                            "move the folder to a place of your own")]
    return []


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith(".")
                      and (p.is_file() or p.is_symlink()))
    except OSError:
        return []


def inspect_root(home: Home) -> list[HomeProblem]:
    """The home folder itself and its parent (checked before Scanlet writes into it)."""
    root = home.root
    if not root.exists():
        return []
    problems = inspect_path(root)
    if not root.is_symlink():  # else inspect_path checked the target's parent
        problems += _parent_problems(root, root.absolute().parent)
    return problems


def inspect_home(home: Home) -> list[HomeProblem]:
    """Every problem of the home (read-only; ``scanlet doctor`` lists them)."""
    if not supported():  # pragma: no cover - Windows
        return []
    problems = inspect_root(home)
    for folder in (home.cache, home.log, home.dump, home.upload):
        problems += inspect_path(folder)
    for folder in (home.keys, home.cert):
        problems += inspect_path(folder, secret=True)
    for config in (home.identity, home.service_config, home.user_config):
        problems += inspect_path(config)
    problems += inspect_path(home.cert / "ca.pem")
    problems += inspect_path(home.cert / "server.key", secret=True)
    for key_file in _files(home.keys):
        problems += inspect_path(key_file, secret=True)
    return problems


def check_root(home: Home) -> None:
    """Raise UnsafeHome when the home folder itself is unsafe."""
    for problem in inspect_root(home):
        raise problem.error()


def check_path(path: Path, *, secret: bool = False) -> None:
    """Raise UnsafeHome when one folder or file (e.g. ``cert/ca.pem`` before trusting it) is
    unsafe."""
    for problem in inspect_path(path, secret=secret):
        if problem.fatal:
            raise problem.error()


def check_home(home: Home) -> None:
    """Raise UnsafeHome for the first unsafe path; narrow secrets readable by others that
    belong to you (``keys/``, ``cert/`` to 0700, key files to 0600)."""
    problems = inspect_home(home)
    for problem in problems:
        if problem.fatal:
            raise problem.error()
    for problem in problems:
        _narrow(problem.path)


def _narrow(path: Path) -> None:
    try:
        st = path.stat()
        if st.st_uid != os.geteuid():
            return  # e.g. root under sudo: the user's files stay as the user keeps them
        wanted = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        os.chmod(path, wanted)
    except OSError as exc:
        log.warning("cannot narrow %s to owner-only: %s", path, exc)
        return
    log.info("narrowed %s from mode %04o to %04o (it holds secrets)", path,
             stat.S_IMODE(st.st_mode), wanted)
