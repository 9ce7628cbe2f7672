"""Read a config folder (``kargo/`` by default) from disk and hand it to the pure parser.

File names in problems are relative to the folder's parent, so a message reads
``kargo/stages/staging.yaml:4:5: ...`` and a person can open it from the repository root.
Everything that can go wrong here (no folder, an unreadable file, bytes that are not
UTF-8) is a ``ConfigError`` too, never an ``OSError``: the user is the one who fixes it.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.config import parse_config
from bot.core.model import Config
from bot.errors import ConfigError, Problem

SUFFIXES = (".yaml", ".yml")


def config_files(path: Path) -> list[Path]:
    """Return the ``*.yaml``/``*.yml`` files under ``path``, recursively, sorted by name.

    Hidden files and folders (``.something``) are skipped: editors and tools keep their
    own files there.
    """
    found = [
        p
        for p in path.rglob("*")
        if p.suffix in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and p.is_file()
    ]
    return sorted(found, key=lambda p: p.relative_to(path).as_posix())


def load_config_dir(path: Path) -> Config:
    """Return the validated ``Config`` of every YAML file under the folder ``path``.

    Raises ``ConfigError`` (with every problem found, file problems included) when the
    folder is missing or holds no YAML file, a file cannot be read or is not UTF-8, or
    the documents are invalid.
    """
    shown = path.as_posix()
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise ConfigError(
            [
                Problem(
                    shown,
                    1,
                    1,
                    "(folder)",
                    f"config folder {what}",
                    "pass --config FOLDER or create kargo/ with your Warehouse and Stages",
                )
            ]
        )
    # Named from the folder's parent: "kargo/stages/dev.yaml", whatever the working folder.
    folder = path.resolve().name
    problems: list[Problem] = []
    documents: list[tuple[str, str]] = []
    for file in config_files(path):
        name = f"{folder}/{file.relative_to(path).as_posix()}"
        try:
            data = file.read_bytes()
        except OSError as exc:
            problems.append(
                Problem(name, 1, 1, "(file)", f"cannot read the file: {exc.strerror or exc}")
            )
            continue
        try:
            documents.append((name, data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            problems.append(
                Problem(
                    name,
                    line,
                    col,
                    "(file)",
                    f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                    "save it as UTF-8",
                )
            )
    if not documents and problems:
        raise ConfigError(problems)
    if not documents:
        raise ConfigError(
            [
                Problem(
                    shown,
                    1,
                    1,
                    "(folder)",
                    "the config folder holds no .yaml or .yml file",
                    "add a Warehouse and Stages",
                )
            ]
        )
    try:
        config = parse_config(documents)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    return config
