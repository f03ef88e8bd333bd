"""Hostile input files are refused within bounded memory and time, with one line naming the file."""

from __future__ import annotations

import io
import os
import resource
import sys
import time
import zipfile
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest.documents import read_document
from rag.ingest.limits import MIB, ReadLimits
from rag.ingest.readers.common import looks_garbled, readable_share
from rag.ingest.readers.docx import read_docx
from rag.ingest.sources import discover, hash_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_hostile  # noqa: E402  (the bench builds the same hostile files)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_docx_whose_image_inflates_to_gigabytes_is_read_without_inflating_it(tmp_path):
    path = bench_hostile._make(tmp_path / "media.docx", {"word/media/*": bench_hostile._zeros(1024 * MIB)})
    assert path.stat().st_size < 3 * MIB
    before, t0 = _peak_mib(), time.perf_counter()
    extracted = read_docx(path, path.read_bytes())
    assert "310 million marks" in extracted.text
    assert time.perf_counter() - t0 < 10
    assert _peak_mib() - before < 200  # the 1 GiB part was never inflated


@pytest.mark.parametrize(("part", "writer"), [
    ("text node", bench_hostile._text_node(200 * MIB)),
    ("tiny paragraphs", bench_hostile._tiny_paragraphs(200 * MIB)),
])
def test_a_docx_whose_xml_inflates_past_the_cap_is_refused_before_parsing(tmp_path, part, writer):
    path = bench_hostile._make(tmp_path / "bomb.docx", {"word/document.xml": writer})
    t0 = time.perf_counter()
    with pytest.raises(DocumentError) as err:
        read_docx(path, path.read_bytes())
    message = str(err.value)
    assert str(path) in message and "word/document.xml" in message and "MiB" in message and "\n" not in message
    assert time.perf_counter() - t0 < 5, part


def test_the_docx_caps_are_the_limits_record(tmp_path):
    path = tmp_path / "small.docx"
    path.write_bytes(bench_hostile._base_docx())
    assert "310 million" in read_docx(path, path.read_bytes()).text
    with pytest.raises(DocumentError, match="zip bomb"):
        read_docx(path, path.read_bytes(), ReadLimits(max_docx_part_bytes=1000))


def test_a_document_past_the_text_cap_is_refused_naming_the_cap(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("The levy raises money. " * 500)
    source = hash_file(path)
    assert read_document(source, ReadLimits(max_text_chars=20_000)).text
    with pytest.raises(DocumentError, match=r"long\.txt holds 11,500 characters .* at most 10,000: split it"):
        read_document(source, ReadLimits(max_text_chars=10_000))
    with pytest.raises(DocumentError, match=r"long\.txt is 0 MiB of text"):
        read_document(source, ReadLimits(max_text_chars=2_000))


def test_a_file_past_the_size_cap_is_not_read(tmp_path):
    path = tmp_path / "big.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"0" * 4096 + b"\n%%EOF")
    with pytest.raises(DocumentError, match=r"big\.pdf is 0 MiB; the largest file an ingest reads is 0 MiB"):
        read_document(hash_file(path), ReadLimits(max_file_bytes=1024))


def test_a_pdf_whose_text_layer_is_garbage_is_refused(tmp_path):
    path = tmp_path / "garbage.pdf"
    bench_hostile._garbage_pdf(path)
    with pytest.raises(DocumentError, match=r"garbage\.pdf has a garbled text layer"):
        read_document(hash_file(path))


@pytest.mark.parametrize(("text", "garbled"), [
    ("The levy raises 310 million marks a year, the ministry said.", False),
    ("Table 3 | 2024 | 12.5% | 1,204 | -3.1 | n/a", False),
    ("中华人民共和国国务院发布了新的政策。", False),
    ("Die Abgabe bringt jährlich 310 Mio. Mark ein.", False),
    ("Москва заявила о новых мерах.", False),
    ("• First point — see p. 4 (annex) …", False),
    ("\x90ł\x17ø»ª\x90˝\x10\x1d\x98ŒÆ\x8b˙\x89\x93ˆ\x0b\x1d\x0f\x14î\x0e", True),
    ("\ue001\ue002\ue003 \ue004\ue005 \ue006\ue007\ue008\ue009", True),
    ("ÃƒÂ¢Ã¢â€šÂ¬Ã…Â¡ÃƒÂ¢Ã¢â‚¬Å¾Ã‚Â¢ÃƒÂ¢Ã¢â€šÂ¬Ã…Â¾Ã‚Â¢ÃƒÂ¢Ã¢â€šÂ¬", True),
])
def test_garbling_table(text, garbled):
    assert looks_garbled(text) is garbled, readable_share(text)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_inside_a_folder_is_listed_as_failed(tmp_path):
    (tmp_path / "note.txt").write_text("A note.")
    os.mkfifo(tmp_path / "pipe.txt")
    found = discover([tmp_path])
    assert [p.name for p in found.files] == ["note.txt"]
    assert [(Path(f.path).name, f.error) for f in found.failures] == [
        ("pipe.txt", "not a regular file (a FIFO, socket or device)")]


def test_the_bench_docx_is_a_real_word_document():
    with zipfile.ZipFile(io.BytesIO(bench_hostile._base_docx())) as archive:
        assert any(name.startswith("word/media/") for name in archive.namelist())


def test_an_uploaded_zip_bomb_is_refused_by_the_same_caps_and_nothing_indexed_is_lost(tmp_path, corpus):
    from rag import Assistant, Settings
    from rag.store.uploads import stage_and_ingest
    from tests.fakes import HashingEmbedder

    bomb = bench_hostile._make(tmp_path / "bomb.docx", {"word/document.xml": bench_hostile._text_node(200 * MIB)})
    index = tmp_path / "index"
    with Assistant(Settings.from_env({}, index_dir=index), embedder=HashingEmbedder()) as assistant:
        assistant.ingest([corpus])
        before = assistant.stats()["documents"]
        with bomb.open("rb") as data, pytest.raises(DocumentError, match=r"^bomb\.docx: nothing was indexed: .*MiB"):
            stage_and_ingest(index, "bomb.docx", data, assistant.ingest)
        assert assistant.stats()["documents"] == before
        assert assistant.search("battery storage", k=1)
    assert not (index / "uploads" / "bomb.docx").exists()
