"""The reasoner's lines in the `leads` command's summary (score, dry run, retry, backfill).

Built from the run figures the scorer reports (scored_leads metadata: one dict per run),
so the command says which model it asked where, how hard, at what cost, and - when leads
are left as RETRY rows - why. The base URL is printed, never the key.
"""
from __future__ import annotations

import re


def _merge_reasons(texts: list[str], n: int = 3) -> str:
    counts: dict[str, int] = {}
    for text in texts:
        for part in filter(None, (p.strip() for p in text.split("; "))):
            m = re.match(r"^(.*) x(\d+)$", part)
            reason, k = (m.group(1), int(m.group(2))) if m else (part, 1)
            counts[reason] = counts.get(reason, 0) + k
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return "; ".join(f"{r} x{k}" for r, k in top)


def model_lines(figures: list[dict]) -> list[str]:
    """'model ...' (and 'RETRY reasons ...') lines; [] when no run called a model."""
    runs = [f for f in figures if "model_calls" in f]
    if not runs:
        return []
    models = sorted({str(f.get("model")) for f in runs})
    endpoints = sorted({str(f.get("endpoint")) for f in runs if f.get("endpoint")})
    where = f" at {', '.join(endpoints)}" if endpoints else ""
    source = {"server": " (the server's only model)", "default": " (the default)"}.get(
        str(runs[0].get("model_from")), "")
    calls = sum(int(f.get("model_calls", 0)) for f in runs)
    known = all(f.get("cost_known", True) for f in runs)
    cost = (f"cost ${sum(float(f.get('cost_usd', 0.0) or 0.0) for f in runs):.4f}" if known
            else f"cost unknown (no price for {', '.join(models)}; set LEADS_PRICES)")
    line = (f"model           {', '.join(models)}{source}{where}\n"
            f"model calls     {calls:>7,}  cache hits {sum(int(f.get('cache_hits', 0)) for f in runs):,}  "
            f"resends {sum(int(f.get('resends', 0)) for f in runs):,}  {cost}")
    timed = [f for f in runs if f.get("effective_concurrency")]
    if timed:
        weight = sum(float(f.get("model_seconds", 0) or 0) for f in timed) or len(timed)
        eff = sum(float(f["effective_concurrency"]) * (float(f.get("model_seconds", 0) or 0) or 1) for f in timed)
        line += (f"\nconcurrency     {eff / weight:>7.1f}  effective (peak {max(int(f.get('concurrency_peak', 0)) for f in timed)}"
                 f", ceiling {max(int(f.get('concurrency_ceiling', 0)) for f in timed)}"
                 f", backed off {sum(int(f.get('concurrency_backoffs', 0)) for f in timed)}x)")
    lines = [line]
    reasons = _merge_reasons([str(f["retry_reasons"]) for f in runs if f.get("retry_reasons")])
    if reasons:
        lines.append(f"RETRY reasons   {reasons}{where}")
    return lines


__all__ = ["model_lines"]
