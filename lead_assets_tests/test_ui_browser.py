"""The Dagster UI in a real browser (Debian's headless Chromium, driven by Playwright).

`dagster dev` (webserver + daemon) runs on loopback with a temporary DAGSTER_HOME, leads.toml
and warehouse; the reasoner is the default scorer and talks to the local OpenAI-compatible
test server. In the browser the test opens the asset graph and sees every asset, launches
a materialization of one city x day partition, waits for the run to succeed and for the
exports sensor to bring the export files on disk up to date. Two partitions were scored
during a model outage (RETRY rows): scored_leads' partition view shows them failed, the
backfill dialog's "failed and missing" option picks exactly them with the default config,
and once the model server is healthy again the backfill rescores only their RETRY rows and
they turn green.
Screenshots go to test-artifacts/.

Also `python -m lead_assets_tests.test_ui_browser --screenshot docs/ui-asset-graph.png`
(`make screenshot`): the asset graph of the demo (`make demo`), for the README.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import pytest

from lead_assets.config.settings import PROJECT_ROOT, Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
DAGSTER = Path(sys.executable).with_name("dagster")
WAIT = 300.0          # seconds: generous upper bounds for a loaded CI machine, never asserted on
UI = 60_000           # ms: how long an expect() waits for the page (a busy 2-core machine), never asserted on


# ---------------------------------------------------------------- dagster dev and the browser

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_signals() -> None:
    # A background job may inherit SIGINT/SIGTERM ignored; dagster dev needs them to shut down.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


@contextmanager
def dagster_dev(home: Path, config: Path, workdir: Path, extra_env: dict | None = None):
    """`dagster dev` on a free loopback port; yields its base URL. Torn down with its process group."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADS_", "DAGSTER_"))}
    env.update({"DAGSTER_HOME": str(home), "LEADS_CONFIG": str(config), "PYTHONUNBUFFERED": "1",
                **(extra_env or {})})
    log_path = workdir / "dagster-dev.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_default_signals)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited ({proc.returncode}):\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dagster dev did not answer:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        yield url
    finally:
        for sig, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:                                   # children that outlived dagster dev
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def chromium_page(width: int = 1600, height: int = 1000, failure_shot: Path | None = None):
    """A page of Debian's Chromium (Playwright never downloads a browser here)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            # Dagster's one-time "join the community" dialog (it would cover the page).
            page.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
            try:
                yield page
            except BaseException:
                if failure_shot:       # what the page showed when the test failed
                    page.screenshot(path=str(failure_shot))
                raise
        finally:
            browser.close()


def dismiss_popups(page) -> None:
    """Dagster's one-time community dialog, should it show anyway."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count() and skip.first.is_visible():
        skip.first.click()


def open_asset_graph(page, url: str, probe: str = "scored_leads") -> None:
    """The global asset graph with every group expanded (groups start collapsed)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect
    page.goto(f"{url}/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible(timeout=UI)
    page.wait_for_load_state("networkidle")
    dismiss_popups(page)
    node = page.get_by_text(probe, exact=True).first
    for _ in range(10):
        if node.is_visible():
            return
        page.mouse.click(1000, 800)          # focus the graph (its background), then
        page.keyboard.press("Alt+e")         # ⌥E: "Expand all groups"
        try:
            node.wait_for(state="visible", timeout=5_000)
        except PlaywrightTimeout:
            dismiss_popups(page)
    raise AssertionError(f"the asset graph did not expand to show {probe}")


def pick_menu_item(page, text: str) -> None:
    from playwright.sync_api import expect
    items = page.get_by_role("menuitem")
    expect(items.first).to_be_visible(timeout=UI)          # the menu opens after a round trip
    for i in range(items.count()):
        if items.nth(i).inner_text().split("\n")[0].strip() == text:
            items.nth(i).click()
            return
    raise AssertionError(f"no menu item {text!r}")


def launch_partitions(page, url: str, path: str, cities: list[str] | None, day: str, button: str,
                      config: str | None = None, failed_only: bool = False, expect_count: int | None = None) -> None:
    """<a job or asset page> -> Materialize -> pick cities (None: All) and a day (-> config,
    -> "only failed and missing") -> launch."""
    from playwright.sync_api import expect
    page.goto(f"{url}{path}")
    page.wait_for_load_state("networkidle")
    dismiss_popups(page)
    page.get_by_role("button", name="Materialize").first.click()
    confirm = page.get_by_role("button", name="Confirm")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Partition selection")).to_be_visible(timeout=UI)
    if confirm.count() and confirm.first.is_visible():                # "upstream not materialized"
        confirm.first.click()
    # The partition pickers fill in once the job's partition sets have loaded.
    expect(dialog.get_by_text("Loading pipeline and partition sets", exact=False)).to_have_count(0, timeout=UI)
    if cities is None:
        dialog.get_by_role("button", name="All").first.click()        # every city
    else:
        dialog.get_by_text("Select a partition or create one").first.click()
        for city in cities:
            pick_menu_item(page, city)
        page.keyboard.press("Escape")
    dates = dialog.get_by_placeholder("ex: ", exact=False)
    dates.fill(day)
    dates.press("Enter")
    if failed_only:
        dialog.get_by_text("Backfill only failed and missing partitions within selection").click()
    n = expect_count if expect_count is not None else len(cities)
    expect(dialog.get_by_text(f"{n} partition{'s' if n > 1 else ''}", exact=True)).to_be_visible(timeout=UI)
    if config:
        dialog.get_by_text("Config", exact=True).click()
        dialog.get_by_role("button", name="Add config").click()
        page.get_by_role("dialog").last.locator(".CodeMirror").first.click()
        page.keyboard.type(config)               # one line: the editor's auto-indent stays out of it
        page.get_by_role("button", name="Save config").click()
        expect(dialog.get_by_text("Config saved")).to_be_visible(timeout=UI)
    launch = dialog.get_by_role("button", name=button)
    expect(launch).to_be_enabled(timeout=UI)
    launch.click()
    expect(page.get_by_text("Partition selection")).to_have_count(0, timeout=UI)   # the dialog closed


def partition_view_counts(page, url: str) -> str:
    """scored_leads' partition view: its status filter line, e.g. "Failed (2) Materialized (3) ..."."""
    from playwright.sync_api import expect
    page.goto(f"{url}/assets/scored_leads?view=partitions")
    page.wait_for_load_state("networkidle")
    dismiss_popups(page)
    expect(page.get_by_text("Partitions Selected", exact=False)).to_be_visible(timeout=UI)
    return page.inner_text("body")


def wait_for(what: str, check, timeout: float = WAIT, interval: float = 2.0):
    """Poll `check()` until it returns something truthy (an upper bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- the end-to-end test

@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                  "(make browser / apt-get install -y chromium)")
def test_the_ui_in_a_real_browser(tmp_path, monkeypatch):
    with ExitStack() as stack:
        _test_the_ui(tmp_path, monkeypatch, stack)


def scored_status(settings: Settings, instance, days) -> dict[str, str | None]:
    """scored_leads' status per partition from the instance's partition status API (what the
    UI's partition view, its Failed filter and the backfill dialog's "failed and missing" use)."""
    from lead_assets.definitions import build_defs
    partitions_def = build_defs(settings).get_assets_def("scored_leads").partitions_def
    keys = [f"{c}|{d}" for c in settings.cities for d in days]
    return {k: v.value if v else None for k, v in
            instance.get_status_by_partition(dg.AssetKey("scored_leads"), keys, partitions_def).items()}


def _test_the_ui(tmp_path, monkeypatch, stack):
    from lead_assets.definitions import build_defs
    from lead_assets.demo.feeds import generate_demo
    from lead_assets.exports.files import file_path, stale_buyer_files, write_buyer_files, write_queue_file
    from lead_assets.defs.runs import RunSummary, failed_partitions, load_properties, score_partitions
    from lead_assets.leads.taxonomy import export_keys
    from lead_assets.warehouse.connection import connect
    from lead_assets_tests.openai_server import FakeOpenAI, server_error
    from lead_assets_tests.test_automation import (
        D1, END, TODAY, new_dagster_home, open_instance, write_config,
    )

    # A temporary project: D1 loaded and scored through Dagster, D2 landed but not loaded,
    # files up to date. Only the exports sensor starts by itself.
    root, home = tmp_path / "project", new_dagster_home(tmp_path / "dagster_home")
    config = write_config(root, automation_cfg={"autostart": ["exports_sensor"], "exports_check_seconds": 5})
    generate_demo(root / "data", END, days=2)
    for var in [v for v in os.environ if v.startswith(("LEADS_", "OPENAI_"))]:
        monkeypatch.delenv(var, raising=False)
    server = stack.enter_context(FakeOpenAI())
    # The reasoner against the local test server: no retries inside a run, so a 500 is a RETRY row.
    model_env = {"LEADS_OPENAI_BASE_URL": server.base_url, "LEADS_OPENAI_API_KEY": "sk-test-browser-0123456789abcdef",
                 "LEADS_OPENAI_MODEL": "gpt-5-mini", "LEADS_RPM": "0", "LEADS_CONCURRENCY": "4",
                 "LEADS_CALL_RETRIES": "0", "LEADS_BACKOFF_BASE": "0.001", "LEADS_OPENAI_TIMEOUT": "30"}
    for name, value in {**model_env, "LEADS_CONFIG": str(config), "LEADS_TODAY": str(TODAY),
                        "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    settings = Settings.load(config)
    cities = list(settings.cities)
    with open_instance(home) as instance:
        defs = build_defs(settings)
        load_properties(defs, instance, RunSummary())
        score_partitions(defs, settings, instance, cities, D1, D1)
        # A model outage: the reasoner's runs of frisco|D1 and allen|D1 lose 2 and 1 model calls.
        for city, lost in (("frisco", 2), ("allen", 1)):
            server.script(*[server_error(500)] * lost)
            score_partitions(defs, settings, instance, [city], D1, D1, scoring={"scorer": "reasoner"})
        failed = {f"{c}|{D1}" for c in ("frisco", "allen")}
        assert {k for k, v in scored_status(settings, instance, [D1]).items() if v == "FAILED"} == failed
    write_buyer_files(settings)
    write_queue_file(settings, "review")
    write_queue_file(settings, "retry")
    assert stale_buyer_files(settings) == [] and failed_partitions(settings) == [("frisco", D1), ("allen", D1)]
    with connect(settings.warehouse_path) as con:
        retry_ids = {r[0] for r in con.execute("SELECT permit_id FROM scored_leads WHERE tier = 'RETRY'").fetchall()}
        scored_before = con.execute("""SELECT * FROM scored_leads WHERE permit_day = ? AND city IN ('frisco', 'allen')
                                       AND tier <> 'RETRY' ORDER BY city, permit_id""", [D1]).fetchall()
    assert len(retry_ids) == 3
    before = {k: file_path(settings, k).read_bytes() for k in export_keys()}
    descriptions = {k.to_user_string(): defs.resolve_assets_def(k).specs_by_key[k].description
                    for k in sorted(defs.resolve_asset_graph().get_all_asset_keys())}
    ARTIFACTS.mkdir(exist_ok=True)

    # The UI's runs use the reasoner by default (LEADS_SCORER), with the model server healthy again.
    with dagster_dev(home, config, tmp_path, {**model_env, "LEADS_TODAY": str(TODAY), "LEADS_SCORER": "reasoner"}) as url, \
            chromium_page(failure_shot=ARTIFACTS / "ui-failure.png") as page, \
            open_instance(home) as instance:
        _walk_the_ui(page, url, instance, settings, descriptions, before, server, retry_ids, scored_before)


def _walk_the_ui(page, url, instance, settings, descriptions, before, server, retry_ids, scored_before):
    from playwright.sync_api import expect

    from lead_assets.exports.files import file_path, stale_buyer_files
    from lead_assets.defs.runs import failed_partitions
    from lead_assets.leads.taxonomy import RETRY_FILE, export_keys
    from lead_assets.warehouse.connection import connect
    from lead_assets_tests.test_automation import D1, D2

    # 1. The asset graph shows every asset.
    open_asset_graph(page, url)
    for asset in descriptions:
        expect(page.get_by_text(asset, exact=True).first).to_be_visible(timeout=UI)
    page.screenshot(path=str(ARTIFACTS / "ui-asset-graph.png"))
    # Every asset's page shows its description as written (markdown would eat an HTML-like <word>).
    for asset, text in descriptions.items():
        page.goto(f"{url}/assets/{asset}")
        shown = text.split("`")[0][:60].strip()
        expect(page.get_by_text(shown, exact=False).first).to_be_visible(timeout=UI)
    page.goto(f"{url}/assets/lead_exports")
    expect(page.get_by_text("exports/{trade_group}/{category}/tier_{a,b,c}.csv", exact=False).first) \
        .to_be_visible(timeout=UI)

    # 2. Materialize one partition (plano, D2) from the UI; the run succeeds.
    launch_partitions(page, url, "/locations/lead_assets/jobs/score_job", ["plano"], str(D2), "Launch 1 run")

    def score_run():
        runs = [r for r in instance.get_runs(dg.RunsFilter(job_name="score_job"))
                if r.tags.get("dagster/partition") == f"plano|{D2}"]
        if runs and runs[0].status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            raise AssertionError(f"run {runs[0].run_id} {runs[0].status}")
        return runs[0] if runs and runs[0].status == dg.DagsterRunStatus.SUCCESS else None

    run = wait_for("the UI's run to succeed", score_run)
    page.goto(f"{url}/runs/{run.run_id}")
    expect(page.get_by_text("Success").first).to_be_visible(timeout=UI)
    page.screenshot(path=str(ARTIFACTS / "ui-run-success.png"))

    # ... and the export files follow on disk (the exports sensor, no clicking).
    with connect(settings.warehouse_path) as con:
        # The permits of every plano project with a permit issued on D2: a project's lead may
        # live on its first day (a sibling on D2 updates that row), or a D2 permit may take the
        # lead from a D1 permit (whose row then goes).
        plano_d2 = {r[0] for r in con.execute(
            """SELECT DISTINCT permit_num FROM project_permits WHERE city = 'plano'
               AND project_id IN (SELECT project_id FROM project_permits WHERE city = 'plano' AND permit_day = ?)""",
            [D2]).fetchall()}
    assert plano_d2

    def files_followed():
        changed = {k for k in export_keys() if file_path(settings, k).read_bytes() != before[k]}
        return changed if changed and not stale_buyer_files(settings) else None

    changed = wait_for("the export files to change", files_followed)
    # Each row a rewritten file gained or lost is one of those projects; the other files kept their bytes.
    for key in changed:
        diff = set(file_path(settings, key).read_text().splitlines()) ^ set(before[key].decode().splitlines())
        assert diff and all(line.split(",", 1)[0] in plano_d2 for line in diff), (key, sorted(diff)[:4])
    exports = instance.get_runs(dg.RunsFilter(job_name="export_job"))
    assert exports and all(r.tags.get("leads/trigger") == "exports_sensor" for r in exports)

    # 3. The partitions with RETRY rows are failed in scored_leads' partition view ...
    counts = partition_view_counts(page, url)
    assert "Failed (2)" in counts, counts
    page.get_by_text("Materialized (", exact=False).first.click()      # show only the failed ones
    page.get_by_text("Missing (", exact=False).first.click()
    expect(page.get_by_text("2 Partitions Selected")).to_be_visible(timeout=UI)
    for city in ("frisco", "allen"):
        expect(page.get_by_text(city, exact=True).first).to_be_visible(timeout=UI)
    expect(page.get_by_text("plano", exact=True)).to_have_count(0, timeout=UI)
    page.screenshot(path=str(ARTIFACTS / "ui-failed-partitions.png"))

    # ... and the backfill dialog's "failed and missing" option over every city on D1 picks
    # exactly those two; launched with the default config.
    marker = instance.fetch_materializations(dg.AssetKey("scored_leads"), limit=1).records[0].storage_id
    calls = len(server.requests)
    launch_partitions(page, url, "/assets/scored_leads", None, str(D1), "Launch backfill",
                      failed_only=True, expect_count=2)
    backfill = wait_for("the backfill", lambda: instance.get_backfills())[0]

    def backfill_done():
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        if any(r.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED) for r in runs):
            raise AssertionError("a backfill run failed")
        done = runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        return runs if done and not failed_partitions(settings) else None

    runs = wait_for("the backfill's runs", backfill_done)
    assert len(runs) == 2, "frisco and allen are not neighbours: one run each (docs/operations-backfills.md)"
    assert all("retry_only" not in str(r.run_config) for r in runs), "the default config"
    records = instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey("scored_leads"), after_storage_id=marker), limit=1000).records
    assert sorted(r.partition_key for r in records) == sorted([f"frisco|{D1}", f"allen|{D1}"]), \
        "the backfill materialized exactly the failed partitions"
    # Only the RETRY rows went to the model; the rows that had scored kept their scores.
    assert len(server.requests) - calls == len(retry_ids)
    with connect(settings.warehouse_path) as con:
        rescored = {r[0]: r[1] for r in con.execute(
            "SELECT permit_id, tier FROM scored_leads WHERE permit_id IN (SELECT unnest(?))", [sorted(retry_ids)]).fetchall()}
        scored_after = con.execute("""SELECT * FROM scored_leads WHERE permit_day = ? AND city IN ('frisco', 'allen')
                                      AND permit_id NOT IN (SELECT unnest(?)) ORDER BY city, permit_id""",
                                   [D1, sorted(retry_ids)]).fetchall()
    assert set(rescored) == retry_ids and set(rescored.values()) <= {"A", "B", "C"}
    assert scored_after == scored_before
    assert scored_status(settings, instance, [D1]) == {f"{c}|{D1}": "MATERIALIZED" for c in settings.cities}

    # 4. The partitions turned green in the UI; the retry queue file emptied.
    counts = partition_view_counts(page, url)
    assert "Failed (0)" in counts, counts
    page.screenshot(path=str(ARTIFACTS / "ui-partitions-green.png"))
    retry_csv = settings.exports_dir / RETRY_FILE
    wait_for("the retry queue file to empty", lambda: retry_csv.read_text().count("\n") == 1)
    page.goto(f"{url}/runs/b/{backfill.backfill_id}")
    expect(page.get_by_text("scored_leads").first).to_be_visible(timeout=UI)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "ui-backfill.png"))


# ---------------------------------------------------------------- the README's screenshot

def screenshot_demo(out: Path, dagster_home: Path) -> None:
    """The asset graph of the project's demo, from a copy of its Dagster instance (nothing runs)."""
    from lead_assets_tests.test_automation import new_dagster_home
    with tempfile.TemporaryDirectory(prefix="leads-screenshot-") as tmp:
        tmp = Path(tmp)
        home = new_dagster_home(tmp / "dagster_home")
        for part in ("storage", "history", "schedules"):
            if (dagster_home / part).exists():
                shutil.copytree(dagster_home / part, home / part)
        project = Settings.load()
        text = (PROJECT_ROOT / "leads.toml").read_text()
        for key, path in (("warehouse", project.warehouse_path), ("landing", project.landing_dir),
                          ("appraisal", project.appraisal_dir), ("exports", project.exports_dir)):
            text = text.replace(next(line for line in text.splitlines() if line.startswith(f"{key} = ")),
                                f'{key} = "{path}"', 1)
        text = text.replace("autostart = true", "autostart = false")
        (tmp / "leads.toml").write_text(text)
        with dagster_dev(home, tmp / "leads.toml", tmp) as url, chromium_page(1500, 900) as page:
            open_asset_graph(page, url)
            page.get_by_text("lead_exports", exact=True).first.wait_for()
            page.wait_for_timeout(2000)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, default=PROJECT_ROOT / "docs" / "ui-asset-graph.png")
    parser.add_argument("--dagster-home", type=Path, default=PROJECT_ROOT / "dagster_home")
    args = parser.parse_args()
    screenshot_demo(args.screenshot, args.dagster_home)
