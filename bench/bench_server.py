"""Load test of `rag serve` on loopback: the real Assistant over examples/ in a temporary index.

Phases (each bounded in requests and seconds):
  1. search: CLIENTS concurrent clients share SEARCH_REQUESTS POST /search calls;
  2. ask: CLIENTS concurrent clients each send one POST /ask at once (one generates, up to 8
     wait, the rest must get 429 at once), while SEARCH_CLIENTS keep searching until the asks end.
Prints p50/p95/max latency, 5xx and 429 counts per route and the server's memory (RSS).

    .venv/bin/python bench/bench_server.py [--clients 50] [--search-requests 1000] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["When does the coastal levy take effect?", "What is the grid storage target?",
             "Who is the minister?", "Why was the levy postponed?", "What did the consultation say about storage?"]


@dataclass
class Tally:
    """Latencies and status counts of one route in one phase."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # transport errors and timeouts

    def add(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200:
            self.latencies.append(seconds * 1000)

    def row(self, name: str, wall: float) -> str:
        total = sum(self.statuses.values()) + self.failures
        ok = self.statuses.get(200, 0)
        busy = self.statuses.get(429, 0)
        errors = sum(n for s, n in self.statuses.items() if s >= 500)
        other = total - ok - busy - errors - self.failures
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) if lat else float("nan")
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
        top = lat[-1] if lat else float("nan")
        return (f"{name:<22}{total:>7}{ok:>6}{busy:>6}{errors:>6}{other + self.failures:>7}"
                f"{p50:>10.0f}{p95:>10.0f}{top:>10.0f}{ok / wall if wall else 0:>9.1f}")


HEADER = f"{'phase/route':<22}{'sent':>7}{'200':>6}{'429':>6}{'5xx':>6}{'other':>7}{'p50 ms':>10}{'p95 ms':>10}" \
         f"{'max ms':>10}{'ok/s':>9}"


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


async def timed(client: httpx.AsyncClient, tally: Tally, path: str, body: dict) -> None:
    t0 = time.perf_counter()
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError:
        tally.failures += 1
        return
    tally.add(response.status_code, time.perf_counter() - t0)


async def search_phase(base: str, clients: int, requests: int, deadline: float) -> tuple[Tally, float]:
    tally, budget = Tally(), iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        for i in budget:
            if time.monotonic() > deadline:
                return
            await timed(client, tally, "/search", {"question": QUESTIONS[i % len(QUESTIONS)], "k": 5})

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return tally, time.perf_counter() - t0


async def ask_phase(base: str, clients: int, search_clients: int, deadline: float) -> tuple[Tally, Tally, float]:
    asks, searches = Tally(), Tally()
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=clients + search_clients)

    async def asker(client: httpx.AsyncClient, i: int) -> None:
        await timed(client, asks, "/ask", {"question": QUESTIONS[i % len(QUESTIONS)]})

    async def searcher(client: httpx.AsyncClient, i: int) -> None:
        while not done.is_set() and time.monotonic() < deadline:
            await timed(client, searches, "/search", {"question": QUESTIONS[i % len(QUESTIONS)]})
            i += 1

    t0 = time.perf_counter()
    timeout = httpx.Timeout(max(1.0, deadline - time.monotonic()))
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
        search_tasks = [asyncio.create_task(searcher(client, i)) for i in range(search_clients)]
        await asyncio.gather(*(asker(client, i) for i in range(clients)))
        done.set()
        await asyncio.gather(*search_tasks)
    return asks, searches, time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--search-requests", type=int, default=1000)
    parser.add_argument("--search-clients", type=int, default=10, help="searching while the asks run")
    parser.add_argument("--max-tokens", type=int, default=64, help="RAG_MAX_TOKENS for the server")
    parser.add_argument("--seconds", type=float, default=600, help="time limit of each phase")
    parser.add_argument("--examples", type=Path, default=ROOT / "examples")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rag-bench-server-"))
    env = {**os.environ, "RAG_INDEX": str(work / "index"), "RAG_MAX_TOKENS": str(args.max_tokens),
           "RAG_API_KEY": "", "HF_HUB_OFFLINE": "1"}
    rag = [sys.executable, "-m", "rag"]
    t0 = time.perf_counter()
    subprocess.run(rag + ["ingest", str(args.examples), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"ingested {args.examples} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (work / "server.log").open("w")
    server = subprocess.Popen(rag + ["serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    try:
        start = time.monotonic()
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() - start > 120:
                    raise SystemExit(f"server did not start; see {work / 'server.log'}")
                time.sleep(0.2)
        idle_rss, _ = rss_mib(server.pid)
        t1 = time.perf_counter()
        httpx.post(f"{base}/search", json={"question": "warm up"}, timeout=300).raise_for_status()
        httpx.post(f"{base}/ask", json={"question": QUESTIONS[0]}, timeout=600).raise_for_status()
        warm_s = time.perf_counter() - t1
        warm_rss, _ = rss_mib(server.pid)

        searches, search_wall = asyncio.run(search_phase(base, args.clients, args.search_requests,
                                                         time.monotonic() + args.seconds))
        asks, side, ask_wall = asyncio.run(ask_phase(base, args.clients, args.search_clients,
                                                     time.monotonic() + args.seconds))
        end_rss, peak_rss = rss_mib(server.pid)
    finally:
        server.terminate()
        code = server.wait(30)
        log.close()

    cpus = os.cpu_count()
    print(f"\nrag serve on 127.0.0.1, real models, examples/ index, {cpus} CPUs, RAG_MAX_TOKENS={args.max_tokens}")
    print(f"first search + first ask (model loading included): {warm_s:.1f} s\n")
    print(HEADER)
    print(searches.row(f"1 search x{args.clients}", search_wall))
    print(asks.row(f"2 ask x{args.clients}", ask_wall))
    print(side.row("2 search during asks", ask_wall))
    print(f"\nserver RSS: idle {idle_rss:.0f} MiB, after warm-up {warm_rss:.0f} MiB, end {end_rss:.0f} MiB, "
          f"peak {peak_rss:.0f} MiB")
    print(f"server exit code after SIGTERM: {code}")
    errors = sum(n for t in (searches, asks, side) for s, n in t.statuses.items() if s >= 500)
    return 1 if errors or code != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
