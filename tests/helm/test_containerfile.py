"""containers/Containerfile, read as text (no container engine here): the three final images run as a
numeric non-root user, no runtime stage installs build tools, base images are pinned, and the web stage
copies what `make web` copies."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "containers" / "Containerfile"
TARGETS = ("functions", "answer-worker", "index-worker")
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|clang|build-essential|make|cmake|rustc|cargo|python3?-dev|libc6?-dev)\b"
)
PINNED = re.compile(
    r"^[\w./-]+:(\d+\.\d+\.\d+[\w.-]*|RELEASE\.[\w-]+)(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$"
)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        current += " " + stripped.removesuffix("\\") if current else stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return lines


def parse(text: str) -> tuple[dict[str, str], dict[str, Stage]]:
    """(global ARG defaults, stages by name)."""
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            assert len(words) == 3 and words[1].upper() == "AS", line
            stage = stages[words[2]] = Stage(words[2], words[0])
        elif stage is None:
            assert keyword == "ARG", f"only ARG may precede FROM: {line}"
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            stage.instructions.append((keyword, rest))
    return args, stages


def resolve(base: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)


def chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    found = [stages[name]]
    while found[-1].base in stages:
        found.append(stages[found[-1].base])
    return found


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[str, str], dict[str, Stage]]:
    return parse(CONTAINERFILE.read_text())


@pytest.mark.parametrize("target", TARGETS)
def test_final_images_run_as_a_numeric_non_root_user(
    parsed: tuple[dict[str, str], dict[str, Stage]], target: str
) -> None:
    _, stages = parsed
    users = [
        rest
        for stage in chain(stages, target)
        for keyword, rest in reversed(stage.instructions)
        if keyword == "USER"
    ]
    assert users, f"{target} has no USER: it would run as root"
    user, _, group = users[0].partition(":")  # the last USER in effect
    assert user.isdigit() and int(user) > 0 and (not group or int(group) > 0), users[0]


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_stages_install_no_build_tools(
    parsed: tuple[dict[str, str], dict[str, Stage]], target: str
) -> None:
    _, stages = parsed
    for stage in chain(stages, target):
        for keyword, rest in stage.instructions:
            if keyword == "RUN":
                assert not BUILD_TOOLS.search(rest), f"{stage.name}: {rest}"
            if keyword == "COPY" and "--from=" in rest:
                source = re.search(r"--from=(\S+)", rest)
                assert source is not None and source.group(1) in stages  # only from our own stages


def test_the_build_stage_compiles_nothing(parsed: tuple[dict[str, str], dict[str, Stage]]) -> None:
    _, stages = parsed
    runs = " ".join(rest for keyword, rest in stages["build"].instructions if keyword == "RUN")
    assert "--only-binary=:all:" in runs and not BUILD_TOOLS.search(runs)


def test_base_images_are_pinned(parsed: tuple[dict[str, str], dict[str, Stage]]) -> None:
    args, stages = parsed
    bases = {resolve(stage.base, args) for stage in stages.values() if stage.base not in stages}
    assert bases and all(PINNED.search(base) for base in bases), bases
    assert any(
        base.startswith("docker.io/library/python:3.11.") and "slim-bookworm" in base for base in bases
    )


def test_the_pin_check_refuses_floating_tags() -> None:
    for floating in ("python:3.11-slim-bookworm", "python:latest", "node:22-bookworm-slim", "python"):
        assert not PINNED.search(floating), floating


def test_the_web_assets_land_where_the_installed_package_serves_them(
    parsed: tuple[dict[str, str], dict[str, Stage]],
) -> None:
    args, stages = parsed
    python = re.search(r"python:(\d+\.\d+)\.", args["PYTHON_IMAGE"])
    assert python is not None
    copies = [rest for keyword, rest in stages["functions"].instructions if keyword == "COPY"]
    destination = shlex.split(copies[0])[-1]
    assert destination == f"/opt/guichet/lib/python{python.group(1)}/site-packages/guichet/web/static/dsfr"


def test_the_web_stage_copies_what_make_web_copies(parsed: tuple[dict[str, str], dict[str, Stage]]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    if "DSFR_DIST" not in makefile:
        pytest.skip("no `make web` target yet")
    wanted = set(re.findall(r"\$\(DSFR_DIST\)/([\w./-]+)", makefile))
    _, stages = parsed
    runs = " ".join(rest for keyword, rest in stages["web"].instructions if keyword == "RUN")
    assert set(re.findall(r"\$\{DSFR_DIST\}/([\w./-]+)", runs)) == wanted
    assert "npm ci --prefix web" in runs


def test_offline_builds_install_from_the_host_wheels_only_and_are_not_the_default(
    parsed: tuple[dict[str, str], dict[str, Stage]],
) -> None:
    """scripts/e2e-containers.sh builds with PIP_OFFLINE=1 and a local Debian base through PYTHON_IMAGE and
    NODE_IMAGE; without those arguments the official images and the registries are used."""
    args, stages = parsed
    build = stages["build"]
    assert ("ARG", "PIP_OFFLINE=0") in build.instructions
    runs = " ".join(rest for keyword, rest in build.instructions if keyword == "RUN")
    assert 'if [ "${PIP_OFFLINE}" = 1 ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS=/offline; fi' in runs
    assert "python3 -m venv" in runs  # Debian's python3 package has no `python` command
    assert args["PYTHON_IMAGE"].startswith("docker.io/library/python:")
    web_runs = " ".join(rest for keyword, rest in stages["web"].instructions if keyword == "RUN")
    assert "/offline/dsfr.tgz" in web_runs and "npm ci --prefix web" in web_runs
    ignored = (ROOT / "containers" / "offline" / ".gitignore").read_text().split()
    assert ignored[0] == "*"  # host-built inputs never committed


@pytest.mark.parametrize(
    ("target", "entry_point"),
    [
        ("functions", "functions/app.py"),
        ("answer-worker", "workers/answer.py"),
        ("index-worker", "workers/index.py"),
    ],
)
def test_each_image_holds_the_entry_point_its_docstring_names(
    parsed: tuple[dict[str, str], dict[str, Stage]], target: str, entry_point: str
) -> None:
    _, stages = parsed
    copies = [args for op, args in stages[target].instructions if op == "COPY"]
    assert any(entry_point in args for args in copies), copies
    assert (ROOT / entry_point).is_file()
