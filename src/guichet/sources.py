"""Files, folders and vosdroits zip dumps given to `guichet ingest`, as (key, bytes) pairs.

Keys are "<folder or zip name>/<relative path>" so that two corpora with the same file names
(F1341.xml) do not overwrite each other in the store. Zip members are checked before they are read:
no absolute or ".." names, no member over the size limit, no suspicious compression ratio.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from guichet.corpus.loader import SUPPORTED_SUFFIXES

MAX_COMPRESSION_RATIO = 100


class SourceError(Exception):
    pass


@dataclass(frozen=True)
class SourceFile:
    key: str
    path: Path
    member: str = ""  # set for zip members

    def read(self, max_bytes: int) -> bytes:
        if not self.member:
            if self.path.stat().st_size > max_bytes:
                raise SourceError(f"{self.path} dépasse la taille maximale ({max_bytes} octets)")
            return self.path.read_bytes()
        with zipfile.ZipFile(self.path) as archive:
            info = archive.getinfo(self.member)
            check_member(info, max_bytes)
            with archive.open(info) as handle:
                data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise SourceError(f"{self.member} dépasse la taille maximale ({max_bytes} octets)")
        return data


def check_member(info: zipfile.ZipInfo, max_bytes: int) -> None:
    name = info.filename
    if name.startswith("/") or ".." in Path(name).parts:
        raise SourceError(f"nom de fichier dangereux dans l'archive : {name}")
    if info.file_size > max_bytes:
        raise SourceError(f"{name} dépasse la taille maximale ({max_bytes} octets)")
    if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO:
        raise SourceError(f"{name} : taux de compression suspect (bombe zip ?)")


def _supported(name: str) -> bool:
    return name.lower().endswith(SUPPORTED_SUFFIXES)


def iter_sources(paths: list[Path], prefix: str = "") -> Iterator[SourceFile]:
    for path in paths:
        if not path.exists():
            raise SourceError(f"introuvable : {path}")
        if path.is_dir():
            base = prefix or path.resolve().name
            for file in sorted(p for p in path.rglob("*") if p.is_file() and _supported(p.name)):
                yield SourceFile(f"{base}/{file.relative_to(path).as_posix()}", file)
        elif path.suffix.lower() == ".zip":
            yield from _zip_members(path, prefix or path.stem)
        elif _supported(path.name):
            yield SourceFile(f"{prefix}/{path.name}" if prefix else path.name, path)
        else:
            raise SourceError(f"format non pris en charge : {path}")


def _zip_members(path: Path, base: str) -> Iterator[SourceFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir() and _supported(i.filename)]
    except zipfile.BadZipFile as exc:
        raise SourceError(f"archive zip illisible : {path}") from exc
    for name in sorted(names):
        yield SourceFile(f"{base}/{name}", path, member=name)
