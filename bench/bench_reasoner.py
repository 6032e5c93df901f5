"""Reasoner throughput: 1,000 permits against the local OpenAI-compatible server.

    .venv/bin/python bench/bench_reasoner.py        (also called by bench/run.py: main())

The server (lead_assets_tests.openai_server.FakeOpenAI) runs in a child process with a
fixed latency per call, so its work does not share the interpreter lock with the client.
The candidates are real: demo permits, ingested and rules-scored into a scratch warehouse.
The scorer is the real one (build_scorer): cache lookup, concurrent calls under the
concurrency and requests-per-minute limits, validation, cache writes, usage ledger.

Reported, per scenario: wall time of the scorer against the ideal bound
max(N x latency / concurrency, N / rate), the share of that bound reached, calls made, and
the busiest one-second window the server saw (never above the rate limit). Then the
same permits with concurrency 1 (the old way; timed on a sample, extrapolated), and a
rerun (zero calls: the cache). And 300 permits against a 2-slot server (the rest queue,
like llama-server) at 200 ms each with default settings: wall time against the slot
bound N x latency / slots, resends, RETRY rows (aim: >= 90 %, 0, 0).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N = 1000
LATENCY = 0.100
SAMPLE_C1 = 100            # permits timed at concurrency 1 (the full 1,000 would take 100 s)
SCENARIOS = (              # (name, concurrency, requests per minute)
    ("rate-bound", 32, 4800),           # ideal max(1000 x 0.1 / 32 = 3.1 s, 1000 / 80 per s = 12.5 s) = 12.5 s
    ("concurrency-bound", 8, 0),        # ideal max(1000 x 0.1 / 8 = 12.5 s, no rate limit) = 12.5 s
)
END = date(2026, 11, 27)
TODAY = END + timedelta(days=1)


# ---------------------------------------------------------------------- the server process

def _serve(conn, latency: float, slots=None) -> None:
    import zlib

    from lead_assets.leads.taxonomy import CATEGORIES
    from lead_assets_tests.openai_server import FakeOpenAI, last_user_message

    stamps: list[float] = []

    def responder(body):
        """A valid answer, deterministic per permit, cheap to make (the server shares two cores)."""
        stamps.append(time.time())
        h = zlib.crc32(last_user_message(body).encode())
        score = h % 101
        return {"category": CATEGORIES[h % len(CATEGORIES)], "reasoning": "Benchmark answer.", "score": score,
                "contact_priority": "call" if score >= 80 else "email", "ideal_contractor": "general contractor",
                "flags": []}

    with FakeOpenAI(latency=latency, responder=responder, slots=slots, models=["local-model"]) as srv:
        conn.send(srv.base_url)
        while True:
            cmd = conn.recv()
            if cmd == "stats":
                conn.send({"calls": srv.calls, "max_in_flight": srv.max_in_flight, "stamps": list(stamps),
                           "max_active": srv.max_active, "max_queued": srv.max_queued, "abandoned": srv.abandoned})
            elif cmd == "reset":
                srv.reset()
                stamps.clear()
                conn.send(True)
            else:
                break


class Server:
    def __init__(self, latency: float, slots=None) -> None:
        ctx = mp.get_context("spawn")   # no fork of a process that may run threads (bench/run.py)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, latency, slots), daemon=True)
        self.proc.start()
        self.base_url = self.conn.recv()

    def stats(self) -> dict:
        self.conn.send("stats")
        return self.conn.recv()

    def reset(self) -> None:
        self.conn.send("reset")
        self.conn.recv()

    def stop(self) -> None:
        try:
            self.conn.send("stop")
        finally:
            self.proc.join(timeout=5)


def busiest_second(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] < t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


# ---------------------------------------------------------------------- candidates

def _candidates(work: Path, n: int):
    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.demo.feeds import generate_demo
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import prepare
    from lead_assets.config.settings import Settings
    from lead_assets.warehouse.connection import connect

    os.environ["LEADS_TODAY"] = TODAY.isoformat()
    data = work / "data"
    generate_demo(data, END, days=6)
    settings = Settings.load(ROOT / "leads.toml", warehouse=str(work / "warehouse.duckdb"),
                             landing=str(data / "landing"), appraisal=str(data / "cad"),
                             exports=str(work / "exports"), today=TODAY.isoformat())
    parts = [(c, END - timedelta(days=d)) for c in settings.cities for d in range(6)]
    load_property_records(settings)
    ingest(settings, parts)
    with connect(settings.warehouse_path) as con:
        frame = prepare(con, settings, parts)
        if frame is None:
            frame = con.execute("SELECT * FROM candidates").df()
    live = frame[frame["discard_reason"].isna()]
    if len(live) < n:
        raise SystemExit(f"bench: only {len(live)} demo leads, need {n}")
    return settings, live.head(n).reset_index(drop=True)


def _scorer(settings, base_url: str, concurrency: int, rpm: float, warehouse: Path):
    from dataclasses import replace

    from lead_assets.reasoner.scorer import build_scorer

    return build_scorer(replace(settings, warehouse_path=warehouse), base_url=base_url, api_key="sk-bench-local",
                        model="gpt-5-mini", reasoning_effort="low", concurrency=concurrency, rpm=rpm,
                        timeout=30.0, batch=False, cache=True)


SLOT_N, SLOT_LATENCY, SLOTS = 300, 0.200, 2


def slot_bound(settings, cand, work: Path) -> dict:
    """300 permits against a 2-slot server (llama-server-like: the rest queue), 200 ms each, with
    the default settings: only the base URL and a key set (the model comes from /v1/models)."""
    from dataclasses import replace

    from lead_assets.reasoner.scorer import build_scorer
    server = Server(SLOT_LATENCY, slots=SLOTS)
    saved = {k: os.environ.pop(k, None) for k in ("LEADS_OPENAI_MODEL", "LEADS_CONCURRENCY", "LEADS_RPM",
                                                  "LEADS_OPENAI_TIMEOUT", "LEADS_REASONING_EFFORT")}
    try:
        os.environ["LEADS_OPENAI_BASE_URL"], os.environ["LEADS_OPENAI_API_KEY"] = server.base_url, "sk-bench-local"
        wh = _fresh_copy(settings.warehouse_path, work / "wh_slots.duckdb")
        scorer = build_scorer(replace(settings, warehouse_path=wh))
        t = time.monotonic()
        final = scorer(cand.head(SLOT_N))
        wall = time.monotonic() - t
        rep, st = final.attrs["report"], server.stats()
    finally:
        server.stop()
        for k in ("LEADS_OPENAI_BASE_URL", "LEADS_OPENAI_API_KEY"):
            os.environ.pop(k, None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    bound = SLOT_N * SLOT_LATENCY / SLOTS
    row = {"n": SLOT_N, "slots": SLOTS, "latency_s": SLOT_LATENCY, "wall_s": round(wall, 2),
           "bound_s": bound, "share_of_bound": round(bound / wall, 3), "resends": rep.get("resends"),
           "retry_rows": rep["retry_rows"], "server_calls": st["calls"], "abandoned_on_server": st["abandoned"],
           "max_queued": st["max_queued"], "effective_concurrency": rep.get("effective_concurrency"),
           "concurrency_ceiling": rep.get("concurrency_ceiling"), "model": rep["model"]}
    print(f"  2-slot server, {SLOT_N} permits, {SLOT_LATENCY * 1000:.0f} ms each, default settings "
          f"(ceiling {row['concurrency_ceiling']}, model {row['model']!r} from /v1/models): {wall:.2f} s, "
          f"slot bound {bound:.1f} s = {row['share_of_bound']:.0%} of the bound; resends {row['resends']}, "
          f"RETRY rows {row['retry_rows']}, {st['calls']} calls, effective concurrency "
          f"{row['effective_concurrency']}, most queued on the server {st['max_queued']}, "
          f"cancelled on the server {st['abandoned']}")
    return row


def _fresh_copy(src: Path, dest: Path) -> Path:
    import shutil
    shutil.copy2(src, dest)
    return dest


# ---------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> dict:
    started = time.monotonic()
    if argv and "--slots-only" in argv:     # just the 2-slot scenario
        with tempfile.TemporaryDirectory(prefix="bench-reasoner-") as tmp:
            settings, cand = _candidates(Path(tmp), SLOT_N)
            return slot_bound(settings, cand, Path(tmp))
    server = Server(LATENCY)
    results: dict = {"n": N, "latency_s": LATENCY, "scenarios": []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reasoner-") as tmp:
            work = Path(tmp)
            settings, cand = _candidates(work, N)
            base = settings.warehouse_path
            print(f"reasoner bench: {N:,} permits, {LATENCY * 1000:.0f} ms per call, "
                  f"local OpenAI-compatible server at {server.base_url}")
            for i, (name, conc, rpm) in enumerate(SCENARIOS):
                wh = _fresh_copy(base, work / f"wh_{i}.duckdb")
                server.reset()
                scorer = _scorer(settings, server.base_url, conc, rpm, wh)
                t, cpu = time.monotonic(), time.process_time()
                final = scorer(cand)
                wall, cpu = time.monotonic() - t, time.process_time() - cpu
                rep, st = final.attrs["report"], server.stats()
                ideal = max(N * LATENCY / conc, N / (rpm / 60.0) if rpm else 0.0)
                row = {"scenario": name, "concurrency": conc, "rpm": rpm, "wall_s": round(wall, 2),
                       "ideal_s": round(ideal, 2), "efficiency": round(ideal / wall, 3),
                       "calls": rep["model_calls"], "retry_rows": rep["retry_rows"],
                       "max_in_flight": st["max_in_flight"],
                       "busiest_second_client": busiest_second(scorer.last_stats.starts),
                       "busiest_second": busiest_second(st["stamps"]),
                       "rate_limit_per_s": rpm / 60.0 if rpm else None,
                       "call_phase_s": rep["model_seconds"],
                       "client_cpu_ms_per_call": round(cpu / max(rep["model_calls"], 1) * 1000, 2)}
                results["scenarios"].append(row)
                limit = f"{rpm:,} rpm" if rpm else "no rpm limit"
                print(f"  {name:<18} concurrency {conc:>2}, {limit:<12}: {wall:6.2f} s, ideal {ideal:5.2f} s "
                      f"= {row['efficiency']:.0%} of the bound ({row['calls']:,} calls, max in flight "
                      f"{row['max_in_flight']}, busiest second {row['busiest_second_client']} requests sent, "
                      f"{row['busiest_second']} received" + (f", limit {rpm / 60:.0f}/s" if rpm else "")
                      + f"; calls took {row['call_phase_s']:.2f} s of it, client CPU {row['client_cpu_ms_per_call']} ms/call)")
                if i == 0:   # the rerun: same permits, same warehouse: all from the cache
                    server.reset()
                    t = time.monotonic()
                    again = scorer(cand)
                    rerun_wall = time.monotonic() - t
                    rr = again.attrs["report"]
                    results["rerun"] = {"wall_s": round(rerun_wall, 2), "calls": rr["model_calls"],
                                        "server_calls": server.stats()["calls"], "cache_hits": rr["cache_hits"]}
                    cost = rep["cost_usd"]
                    results["first_run_cost_usd"] = cost
                    results["first_run_tokens"] = {k: rep[k] for k in ("input_tokens", "cached_tokens",
                                                                        "output_tokens")}

            results["two_slot_server"] = slot_bound(settings, cand, work)

            wh = _fresh_copy(base, work / "wh_c1.duckdb")
            server.reset()
            scorer = _scorer(settings, server.base_url, 1, 0, wh)
            t = time.monotonic()
            scorer(cand.head(SAMPLE_C1))
            c1 = time.monotonic() - t
            results["concurrency_1"] = {"sample": SAMPLE_C1, "wall_s": round(c1, 2),
                                        "projected_s_for_n": round(c1 * N / SAMPLE_C1, 1),
                                        "ideal_s_for_n": N * LATENCY}
            print(f"  concurrency 1 (the old way): {SAMPLE_C1} permits in {c1:.2f} s "
                  f"-> {c1 * N / SAMPLE_C1:.0f} s for {N:,} (ideal {N * LATENCY:.0f} s)")
            r = results["rerun"]
            print(f"  rerun (unchanged permits): {r['calls']} model calls ({r['server_calls']} reached the "
                  f"server), {r['cache_hits']:,} cache hits, {r['wall_s']:.2f} s")
            tok = results["first_run_tokens"]
            print(f"  estimated cost of the first run with gpt-5-mini prices (fake server's token counts): "
                  f"${results['first_run_cost_usd']:.4f} for {N:,} leads ({tok['input_tokens']:,} in, "
                  f"{tok['cached_tokens']:,} of them cached, {tok['output_tokens']:,} out)")
    finally:
        server.stop()
    results["took_s"] = round(time.monotonic() - started, 1)
    out = ROOT / "bench" / "out"
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "reasoner.json").write_text(json.dumps(results, indent=1) + "\n")
    except OSError:
        pass
    print(f"  took {results['took_s']} s")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
