"""Memory stays flat: 2,000 charts in a row through the chart service's worker thread must
not grow the process's RSS by more than 20 MB after the first 50.

The charts are drawn in a fresh interpreter, so the measurement sees only this workload
(no pytest, no other test's allocations). Each chart is a real one: 200 candles of a window
sliding through the bundled ETH/BTC recording, with the default overlays. This is the
slowest test of the suite: 2,000 real charts take five to eight minutes on two cores, so
CI (CI=true) draws the full 2,000 of the acceptance criterion and a developer's run 500,
which still shows a leak of a few kilobytes per chart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

CHARTS = 2000 if os.environ.get("CI") == "true" else 500
BASELINE_AFTER = 50
MAX_GROWTH_MB = 20.0

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path

    from tradedeck.charts.service import ChartService
    from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
    from tradedeck.strategies.base import candle_frame

    CHARTS, BASELINE_AFTER = int(sys.argv[1]), int(sys.argv[2])

    def rss_mb():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc/self/status")

    async def main():
        bundled = next(b for b in load_bundled_catalog() if b.symbol == "ETH/BTC")
        frame = candle_frame(load_bundled_series(bundled))
        charts = ChartService(None, None, None)  # rendering only: no market lookups
        baseline, sizes, began = None, set(), time.monotonic()
        for k in range(CHARTS):
            start = (k * 37) % (len(frame) - 200)
            png = await charts.render(frame.iloc[start : start + 200], title=f"ETH/BTC {k}")
            sizes.add(len(png) > 10_000 and png[:8] == b"\\x89PNG\\r\\n\\x1a\\n")
            if k + 1 == BASELINE_AFTER:
                baseline = rss_mb()
        final = rss_mb()
        await charts.stop()
        print(json.dumps({
            "baseline_mb": baseline, "final_mb": final, "all_png": sizes == {True},
            "seconds": time.monotonic() - began,
        }))

    asyncio.run(main())
    """
)


def test_rss_stays_flat_over_2000_charts() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(CHARTS), str(BASELINE_AFTER)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["all_png"]
    growth = figures["final_mb"] - figures["baseline_mb"]
    print(
        f"\nRSS after {BASELINE_AFTER} charts {figures['baseline_mb']:.1f} MB, after {CHARTS} "
        f"{figures['final_mb']:.1f} MB ({growth:+.1f} MB); {figures['seconds']:.0f} s"
    )
    assert growth <= MAX_GROWTH_MB, figures
