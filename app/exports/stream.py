"""A zip written as it goes: files in, bytes out, in constant memory.

Python's zipfile writes to a stream it cannot seek (it notices that `tell()` fails): each entry
then gets a data descriptor after its data instead of sizes patched into its header, so nothing
needs to be held back. `zip_stream` hands out whatever the zip has produced after every chunk
it is given, so memory holds one chunk and the zip's small central directory, whatever the
size of the export. Entries above 2 GiB would need zip64; a year of a clinic is far below.
"""

import io
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream that hands its bytes on when asked."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def zip_stream(files: Iterable[tuple[str, Iterable[bytes]]], *,
               modified: datetime) -> Iterator[bytes]:
    """Yield a deflated zip of `files` ((name, chunks) pairs, each consumed in turn) as it is
    written. `modified` is every entry's time (the export's time, so a zip says when it was
    made, not when each byte was)."""
    sink = _Sink()
    stamp = modified.timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    if data := sink.take():
                        yield data
            if data := sink.take():
                yield data
    if data := sink.take():
        yield data


def zip_bytes(files: Iterable[tuple[str, Iterable[bytes]]], *, modified: datetime) -> bytes:
    """The same zip, whole (one patient's export is small)."""
    return b"".join(zip_stream(files, modified=modified))
