"""Discovery and hashing: rag.sources."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest.sources import SUPPORTED_SUFFIXES, Discovery, discover, doc_id_for, hash_file


def _touch(path: Path, text: str = "some text\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    _touch(root / "a.txt")
    _touch(root / "b.md")
    _touch(root / "UPPER.MD")
    _touch(root / "sub" / "deeper" / "c.html", "<p>x</p>")
    _touch(root / "sub" / "d.pdf")
    _touch(root / "sub" / "e.docx")
    _touch(root / "notes.xyz")
    _touch(root / "image.png")
    _touch(root / ".hidden.txt")
    _touch(root / ".git" / "inside.md")
    _touch(root / "drafts" / "draft.md")
    _touch(root / "sub" / "scratch.tmp.md")
    return root


def test_supported_suffixes() -> None:
    assert SUPPORTED_SUFFIXES == {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}


def test_doc_id_is_stable_and_path_based(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _touch(tmp_path / "x.txt")
    expected = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    assert doc_id_for(path) == expected
    monkeypatch.chdir(tmp_path)
    assert doc_id_for(Path("x.txt")) == expected
    assert doc_id_for(tmp_path / "y.txt") != expected
    assert len(expected) == 12 and int(expected, 16) >= 0


def test_hash_file(tmp_path: Path) -> None:
    payload = os.urandom(3 * (1 << 20) + 17)  # spans several read blocks
    path = tmp_path / "big.pdf"
    path.write_bytes(payload)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    source = hash_file(path)
    assert source.sha256 == hashlib.sha256(payload).hexdigest()
    assert source.size == len(payload)
    assert source.mtime == 1_700_000_000
    assert source.path == path.resolve()


def test_hash_file_missing_raises_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="gone.txt"):
        hash_file(tmp_path / "gone.txt")


def test_discover_walks_folders_recursively(tree: Path) -> None:
    found = discover([tree])
    assert isinstance(found, Discovery)
    names = [p.relative_to(tree).as_posix() for p in found.files]
    assert names == sorted(
        [
            "UPPER.MD",
            "a.txt",
            "b.md",
            "drafts/draft.md",
            "sub/d.pdf",
            "sub/deeper/c.html",
            "sub/e.docx",
            "sub/scratch.tmp.md",
        ]
    )
    assert list(found.files) == sorted(found.files)
    assert found.roots == (tree.resolve(),)
    assert found.failures == ()


def test_discover_excludes_by_relative_path_and_name(tree: Path) -> None:
    found = discover([tree], exclude=["drafts/*", "*.tmp.md"])
    names = {p.name for p in found.files}
    assert "draft.md" not in names and "scratch.tmp.md" not in names
    assert {"a.txt", "b.md", "c.html"} <= names
    by_folder = discover([tree], exclude=["deeper"])
    assert "c.html" not in {p.name for p in by_folder.files}


def test_discover_explicit_files_and_failures(tree: Path, tmp_path: Path) -> None:
    found = discover([tree / "a.txt", tree / "notes.xyz", tmp_path / "missing.md", tree / "a.txt"])
    assert found.files == ((tree / "a.txt").resolve(),)
    assert found.roots == ()
    errors = {Path(f.path).name: f.error for f in found.failures}
    assert errors["notes.xyz"].startswith("unsupported file type .xyz; supported: ")
    assert ".docx" in errors["notes.xyz"] and ".pdf" in errors["notes.xyz"]
    assert errors["missing.md"] == "no such file or folder"


def test_discover_explicit_hidden_file_is_taken(tree: Path) -> None:
    found = discover([tree / ".hidden.txt"])
    assert found.files == ((tree / ".hidden.txt").resolve(),)


def test_discover_deduplicates_folder_and_file(tree: Path) -> None:
    found = discover([tree, tree / "a.txt", str(tree / "sub")])
    assert len(found.files) == len(set(found.files)) == 8
    assert found.roots == (tree.resolve(), (tree / "sub").resolve())


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_discover_survives_symlink_loops_and_broken_links(tree: Path) -> None:
    os.symlink(tree, tree / "sub" / "loop")
    os.symlink(tree / "nowhere.txt", tree / "dangling.txt")
    found = discover([tree])
    assert len(found.files) == 8
    assert [Path(f.path).name for f in found.failures] == ["dangling.txt"]
    assert "broken symbolic link" in found.failures[0].error


def test_discover_relative_paths_are_resolved(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    found = discover(["sub"])
    assert found.roots == ((tree / "sub").resolve(),)
    assert all(p.is_absolute() for p in found.files)
