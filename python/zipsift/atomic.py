"""Writing outputs safely: atomically, never over something that is not a regular file, and with one
clear error naming the path when the operating system refuses (full disk, read-only file system,
no permission).

What an output path may be:

* a new file, or an existing regular file (replaced atomically: a temporary file in the same
  directory is renamed onto it, so the name only ever holds a complete file; the old file's
  permission bits are kept);
* a symlink to either: the link is kept and its target is replaced atomically (the temporary file is
  made in the target's directory, so the rename never crosses file systems);
* ``-`` or ``/dev/stdout``: the output is streamed to standard output, uncompressed. A stream cannot
  be written atomically: on an error the consumer may have seen part of it.

A directory, device (``/dev/null`` included), fifo or socket is refused, so is an empty path.

Temporary files are named ``.NAME.zipsift-tmp.HOST.PID.RANDOM``. A process killed with SIGKILL
cannot remove its own; the next write to the same NAME from the same host removes those whose PID
no longer runs (a live PID, or another host's file, is never touched).
"""
from __future__ import annotations

import errno
import gzip
import io
import os
import secrets
import socket
import stat
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Union

import zstandard

__all__ = ["AtomicWriter", "OutputError", "STDOUT_NAMES", "check_output", "files_under", "resolve_output", "same_file"]

PathLike = Union[str, os.PathLike]
STDOUT_NAMES = ("-", "/dev/stdout")
TMP_MARK = ".zipsift-tmp."


class OutputError(OSError):
    """An output that cannot be written; the message names the path and says what to do."""


class MissingDirectoryError(OutputError, FileNotFoundError):
    """The directory of an output does not exist."""


def _describe(err: OSError) -> str:
    reasons = {errno.ENOSPC: "no space left on the device", errno.EROFS: "the file system is read-only",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EDQUOT: "disk quota exceeded", errno.EISDIR: "it is a directory"}
    return reasons.get(err.errno, err.strerror or str(err))


def _kind(mode: int) -> Optional[str]:
    """What a non-regular file is, in words; None for a regular file."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a fifo"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def is_stdout(path: PathLike) -> bool:
    return os.fspath(path) in STDOUT_NAMES


def resolve_output(path: PathLike) -> Path:
    """The file an output path will really replace: symlinks followed to their final target.
    Raises OutputError for an empty path, a directory, device, fifo or socket, or a missing
    directory."""
    text = os.fspath(path)
    if text == "":
        raise OutputError("the output path is empty; give a file name such as out.jsonl")
    target = Path(os.path.realpath(text))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise OutputError(f"{text}: cannot be written: {_describe(err)}") from None
    if mode is not None:
        kind = _kind(mode)
        if kind is not None:
            raise OutputError(f"{text}: is {kind}; zipsift writes outputs only to regular files "
                              f"(use - to write to standard output)")
    if not target.parent.is_dir():
        if os.path.islink(text):  # a dangling link: name where it points, not the link's own directory
            raise MissingDirectoryError(f"{text}: a symbolic link to {os.readlink(text)}, whose directory "
                                        f"{target.parent} does not exist; create it or fix the link")
        raise MissingDirectoryError(f"{text}: the directory {Path(text).parent} does not exist; create it first")
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _host() -> str:
    return socket.gethostname().replace("/", "_") or "localhost"


def _remove_stale_temporaries(target: Path) -> List[Path]:
    """Remove this host's temporaries for ``target`` whose writing process is gone."""
    prefix = f".{target.name}{TMP_MARK}"
    removed = []
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix)]
    except OSError:
        return removed
    host = _host()
    for name in names:
        parts = name[len(prefix):].rsplit(".", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if int(parts[1]) == os.getpid() or _pid_alive(int(parts[1])):
            continue
        try:
            os.unlink(target.parent / name)
            removed.append(target.parent / name)
        except OSError:
            pass
    return removed


def _create_temporary(target: Path, display: str):
    tmp = target.parent / f".{target.name}{TMP_MARK}{_host()}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as err:
        raise OutputError(f"{display}: cannot write in {target.parent}: {_describe(err)}") from None
    return fd, tmp


def check_output(path: PathLike) -> None:
    """Fail now, before any work, if ``path`` could not be written: it must pass
    :func:`resolve_output` and its directory must accept a new file (checked by creating and
    removing a temporary one, which also catches a read-only file system)."""
    if is_stdout(path):
        return
    target = resolve_output(path)
    fd, tmp = _create_temporary(target, os.fspath(path))
    os.close(fd)
    os.unlink(tmp)


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file (through symlinks, hard links, ``..``)."""
    if is_stdout(a) or is_stdout(b):
        return is_stdout(a) and is_stdout(b)
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


class _GuardedFile(io.FileIO):
    """The temporary file: a failed write raises OutputError naming the output, not a bare OSError."""

    display = ""

    def write(self, data):
        try:
            return super().write(data)
        except OSError as err:
            raise OutputError(f"{self.display}: writing failed: {_describe(err)}; the previous file, if any, "
                              f"is unchanged") from None


# Uncompressed bytes per zstd frame of an output: frames end at a line end, so a reader (the Ray
# engine) can split the file by frame; 4 MiB costs about 1% of compression at level 10.
ZSTD_FRAME_BYTES = 4 << 20


class _FramedZstd(io.RawIOBase):
    """A zstd stream written as independent frames (checksummed, content size known) of about
    ZSTD_FRAME_BYTES each, cut at a newline."""

    def __init__(self, out, frame_bytes: Optional[int] = None):
        self._out = out
        self._frame_bytes = frame_bytes or ZSTD_FRAME_BYTES
        self._cctx = zstandard.ZstdCompressor(level=10, write_checksum=True)
        self._buffer = bytearray()
        self._frames = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        while len(self._buffer) >= self._frame_bytes:
            cut = self._buffer.rfind(b"\n", 0, len(self._buffer)) + 1
            if cut == 0:  # one line longer than a frame: it goes whole into the next frame
                break
            self._emit(cut)
            if len(self._buffer) >= self._frame_bytes and self._buffer.find(b"\n") < 0:
                break
        return len(data)

    def _emit(self, n: int) -> None:
        self._out.write(self._cctx.compress(bytes(self._buffer[:n])))
        del self._buffer[:n]
        self._frames += 1

    def close(self) -> None:
        if not self.closed:
            if self._buffer or not self._frames:  # an empty output is still one (empty) frame
                self._emit(len(self._buffer))
        super().close()


class AtomicWriter:
    """Write a file under a temporary name in the directory of its (symlink-resolved) target and
    rename it into place on success, so the final name only ever holds a complete file. On any
    exception (Ctrl-C included) the temporary file is removed and nothing appears under the final
    name. OS errors while writing raise :class:`OutputError` naming the path.

    ``.gz`` and ``.zst`` suffixes compress the output (zstd: frames of about 4 MiB of lines, each
    with a checksum, so readers can split the file by frame). ``-`` or
    ``/dev/stdout`` stream to standard output instead (not atomic). Use as a context manager;
    write text.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path) if os.fspath(path) else path
        self.display = os.fspath(path)
        self._target: Optional[Path] = None
        self._tmp: Optional[Path] = None
        self._raw = None
        self._buffered = None
        self._stream = None
        self._text = None

    def __enter__(self):
        if is_stdout(self.display):
            sys.stdout.flush()
            self._text = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False)
            return self._text
        self._target = resolve_output(self.display)
        _remove_stale_temporaries(self._target)
        fd, self._tmp = _create_temporary(self._target, self.display)
        self._raw = _GuardedFile(fd, "wb")
        self._raw.display = self.display
        self._buffered = io.BufferedWriter(self._raw, buffer_size=1 << 20)
        name = Path(self.display).name.lower()  # the format the user asked for (a link may point elsewhere)
        if name.endswith(".gz"):
            self._stream = gzip.GzipFile(fileobj=self._buffered, mode="wb", filename="", mtime=0)
        elif name.endswith(".zst"):
            self._stream = _FramedZstd(self._buffered)
        else:
            self._stream = None
        self._text = io.TextIOWrapper(self._stream or self._buffered, encoding="utf-8", newline="\n",
                                      write_through=False)
        return self._text

    def _finish(self) -> None:
        self._text.flush()
        self._text.detach()
        if self._stream is not None:
            self._stream.close()  # writes the gzip trailer / zstd frame end
        self._buffered.flush()
        try:
            os.fsync(self._raw.fileno())
        except OSError as err:
            raise OutputError(f"{self.display}: writing failed: {_describe(err)}") from None
        self._raw.close()
        try:
            mode = stat.S_IMODE(os.stat(self._target).st_mode)
        except FileNotFoundError:  # new file: the permissions any new file gets
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        try:
            os.chmod(self._tmp, mode)
            os.replace(self._tmp, self._target)
        except OSError as err:
            raise OutputError(f"{self.display}: cannot replace {self._target}: {_describe(err)}") from None
        self._tmp = None

    def __exit__(self, exc_type, exc, tb):
        if self._tmp is None:  # standard output
            if self._text is not None:
                self._text.flush()
                self._text.detach()
            return False
        try:
            if exc_type is None:
                self._finish()
        finally:
            if self._tmp is not None:
                for closable in (self._text, self._stream, self._buffered, self._raw):
                    try:
                        if closable is not None:
                            closable.close()
                    except Exception:
                        pass
                try:
                    self._tmp.unlink()
                except FileNotFoundError:
                    pass
        return False


def files_under(path: Optional[PathLike]) -> List[Path]:
    """Every regular file ``path`` names, for the distinctness check of inputs that are not datasets
    (a model file or folder): the file itself, or every file below a directory (recursively, not
    following directory symlinks). [] for None or a path that does not exist (the reader that
    needs it says so)."""
    if path is None:
        return []
    path = Path(os.path.expanduser(os.fspath(path)))
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(Path(root) / name for root, _, names in os.walk(path) for name in names
                      if (Path(root) / name).is_file())
    return []


def check_distinct(outputs: Sequence[tuple], inputs: Sequence[tuple] = ()) -> None:
    """Refuse, before any work, an output that is also an input or another output.

    outputs, inputs: (option name, path) pairs; an input path may be a directory or a glob (every
    file it names counts). Raises OutputError."""
    from .io import expand_paths

    outs = [(name, path) for name, path in outputs if path is not None]
    for i, (name_a, a) in enumerate(outs):
        for name_b, b in outs[i + 1:]:
            if same_file(a, b):
                raise OutputError(f"{name_a} and {name_b} are the same file ({a}); give them different names")
    for name_in, spec in inputs:
        specs = [s for s in (spec if isinstance(spec, (list, tuple)) else [spec]) if s is not None]
        if not specs:
            continue
        try:
            files = expand_paths(specs)
        except (OSError, ValueError):  # not a dataset (an .npy, a .csv): compare the files as given
            files = [Path(s) for s in specs if os.path.isfile(s)]
        for name_out, out in outs:
            if is_stdout(out):
                continue
            for f in files:
                if same_file(f, out):
                    raise OutputError(f"{name_out} {out} is also an input ({name_in} {f}); writing it would "
                                      f"destroy the input: choose another output name")
