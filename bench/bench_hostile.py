"""Hostile input files: peak RSS and seconds of `rag ingest` on each, and what it answered.

Builds, in a temporary folder, the files an adversary (or an unlucky export) hands the ingest:
DOCX zip bombs (a media part that inflates to GBs, one GB-long text node, millions of tiny
paragraphs), a 10 MB text file on one line, 50 MB of random words, a PDF whose text layer is
binary garbage. Each is ingested by a fresh `rag ingest` process into its own empty index, with
a wall-clock limit; the table gives the process's peak RSS (ru_maxrss), its seconds, its exit
status and the first line it printed about the file.

    .venv/bin/python bench/bench_hostile.py            # every case
    .venv/bin/python bench/bench_hostile.py --cases docx-media,one-line --timeout 120
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

from _util import ROOT, machine_note, table

MB = 1 << 20
_BLOCK = 8 * MB


def _png() -> bytes:
    """A valid 1x1 grey PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\x80"))
            + chunk(b"IEND", b""))


def _base_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Port levy briefing", level=1)
    document.add_paragraph("The levy raises 310 million marks a year.")
    document.add_picture(io.BytesIO(_png()))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _rewrite_docx(path: Path, replace: dict[str, Callable[[io.BufferedIOBase], None]]) -> None:
    """Copy the base DOCX to `path`, streaming new content into the named parts."""
    with zipfile.ZipFile(io.BytesIO(_base_docx())) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            name = info.filename
            if name.startswith("word/media/") and "word/media/*" in replace:
                writer = replace["word/media/*"]
            else:
                writer = replace.get(name)
            if writer is None:
                out.writestr(info, src.read(name))
                continue
            entry = zipfile.ZipInfo(name, date_time=info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with out.open(entry, "w", force_zip64=True) as fh:
                writer(fh)


def _zeros(total: int) -> Callable[[io.BufferedIOBase], None]:
    def write(fh: io.BufferedIOBase) -> None:
        block = b"\0" * _BLOCK
        for _ in range(total // _BLOCK):
            fh.write(block)
    return write


_DOC_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
_DOC_TAIL = b"</w:body></w:document>"


def _text_node(total: int) -> Callable[[io.BufferedIOBase], None]:
    def write(fh: io.BufferedIOBase) -> None:
        fh.write(_DOC_HEAD + b"<w:p><w:r><w:t>")
        block = b"a" * _BLOCK
        for _ in range(total // _BLOCK):
            fh.write(block)
        fh.write(b"</w:t></w:r></w:p>" + _DOC_TAIL)
    return write


def _tiny_paragraphs(total: int) -> Callable[[io.BufferedIOBase], None]:
    def write(fh: io.BufferedIOBase) -> None:
        para = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>"
        block = para * (_BLOCK // len(para))
        fh.write(_DOC_HEAD)
        for _ in range(total // len(block)):
            fh.write(block)
        fh.write(_DOC_TAIL)
    return write


def _random_words(total: int, seed: int = 5, one_line: bool = False) -> bytes:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
             for _ in range(20_000)]
    out: list[str] = []
    size = 0
    while size < total:
        sentence = " ".join(rng.choices(vocab, k=rng.randint(6, 25)))
        sentence = sentence + " " if one_line else sentence.capitalize() + ". "
        out.append(sentence)
        size += len(sentence)
        if not one_line and rng.random() < 0.08:
            out.append("\n\n")
    return "".join(out).encode()


def _garbage_pdf(path: Path) -> None:
    """A valid PDF whose text layer draws control and private-use characters."""
    rng = random.Random(3)
    junk = "".join(chr(rng.choice([rng.randint(0x80, 0xFF), rng.randint(0x01, 0x1F)])) for _ in range(3000))
    escaped = junk.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 10 Tf 40 700 Td ({escaped}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body, offsets = io.BytesIO(), []
    body.write(b"%PDF-1.4\n")
    for number, obj in enumerate(objects, start=1):
        offsets.append(body.tell())
        body.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = body.tell()
    body.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        body.write(b"%010d 00000 n \n" % offset)
    body.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(body.getvalue())


CASES: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "docx-media": ("DOCX, image part inflating to 2.6 GB (2.5 MB file)",
                   lambda d: _make(d / "media.docx", {"word/media/*": _zeros(2600 * MB)})),
    "docx-text-node": ("DOCX, one 1.2 GB text node (1.2 MB file)",
                       lambda d: _make(d / "textnode.docx", {"word/document.xml": _text_node(1200 * MB)})),
    "docx-paragraphs": ("DOCX, 200 MB of tiny paragraphs (600 KB file)",
                        lambda d: _make(d / "paragraphs.docx", {"word/document.xml": _tiny_paragraphs(200 * MB)})),
    "one-line": ("TXT, 10 MB of random words on one line, no full stop",
                 lambda d: _write(d / "one-line.txt", _random_words(10 * MB, one_line=True))),
    "random-words": ("TXT, 50 MB of random words",
                     lambda d: _write(d / "words.txt", _random_words(50 * MB))),
    "pdf-garbage": ("PDF, text layer of control bytes", lambda d: _pdf(d / "garbage.pdf")),
}


def _make(path: Path, parts: dict[str, Callable[[io.BufferedIOBase], None]]) -> Path:
    _rewrite_docx(path, parts)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _pdf(path: Path) -> Path:
    _garbage_pdf(path)
    return path


def run_limited(args: list[str], timeout: float) -> tuple[int | None, float, float, str]:
    """(exit status or None when killed, seconds, peak RSS MiB, output) of one fresh process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        status = None
        while True:
            pid, raw, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(raw)
                break
            if time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                _, raw, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.1)
        proc.returncode = 0
        seconds = time.perf_counter() - t0
        log.seek(0)
        output = log.read().decode(errors="replace")
    return status, seconds, usage.ru_maxrss / 1024, output


def _summary(output: str, path: Path) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith(("failed:", "Error"))]
    final = [line for line in lines if not line.startswith("ingest: ")]
    line = (failed or final or lines or ["(no output)"])[-1]
    line = line.replace(f"{path}: ", "").replace(str(path), path.name).replace(str(path.parent) + "/", "")
    return line[:140]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a process is killed")
    args = parser.parse_args()
    rag = str(ROOT / ".venv" / "bin" / "rag")
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-hostile-") as tmp:
        for key in args.cases.split(","):
            label, build = CASES[key]
            folder = Path(tmp) / key
            folder.mkdir()
            path = build(folder)
            status, seconds, rss, output = run_limited(
                [rag, "ingest", str(path), "--index", str(folder / "index")], args.timeout)
            outcome = "killed at limit" if status is None else f"exit {status}"
            rows.append([label, f"{path.stat().st_size / MB:.1f}", f"{seconds:.1f}", f"{rss:.0f}", outcome,
                         _summary(output, path)])
            print(f"{key}: {outcome}, {seconds:.1f} s, {rss:.0f} MiB", file=sys.stderr, flush=True)
    print(table(["file", "MB on disk", "seconds", "peak RSS MiB", "outcome", "what it said"], rows))
    print(machine_note())


if __name__ == "__main__":
    main()
