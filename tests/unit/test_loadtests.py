"""The load tests' pure parts: shapes from the model, the PNG writer, the report from Locust's CSV."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from loadtests.png import Canvas, line_chart, nice_step
from loadtests.report import read_summary, write_report
from loadtests.shapes import DAY_PROFILE, business_day, plan, spike, tick, users_for


def test_users_hold_the_rate_with_pacing() -> None:
    assert users_for(2.27, pacing_s=30) == 69
    assert users_for(2.0, pacing_s=30, asks_per_visit=1.5) == 40
    assert users_for(0.001) == 1


def test_spike_is_three_times_the_peak_in_its_middle_third() -> None:
    stages = spike(2.0, 90)
    assert [s.rate for s in stages] == [2.0, 6.0, 2.0] and sum(s.seconds for s in stages) == 90
    assert tick(stages, 10, pacing_s=10) == (20, 20.0)
    assert tick(stages, 40, pacing_s=10) == (60, 60.0)
    assert tick(stages, 91, pacing_s=10) is None


def test_business_day_peaks_at_the_model_peak_and_averages_half_of_it() -> None:
    stages = business_day(2.0, 80)
    assert max(s.rate for s in stages) == pytest.approx(2.0)
    assert sum(s.rate for s in stages) / len(stages) == pytest.approx(1.0)  # peak factor 2 → mean = peak / 2
    assert len(stages) == len(DAY_PROFILE)


def test_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="forme de charge inconnue"):
        plan("weekend", 1.0, 10)


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    return width, height, zlib.decompress(data[idat + 4 : idat + 4 + length])


def test_png_is_valid_and_draws_the_line(tmp_path: Path) -> None:
    canvas = Canvas(4, 3)
    canvas.line(0, 1, 3, 1, (255, 0, 0))
    width, height, raw = decode_png(canvas.png())
    assert (width, height) == (4, 3) and len(raw) == 3 * (1 + 4 * 3)
    row = raw[1 * 13 + 1 : 2 * 13]
    assert row == bytes((255, 0, 0)) * 4 and raw[1:13] == b"\xff" * 12
    line_chart([[(0, 0), (10, 5)], [(0, 1), (10, 2)]], tmp_path / "chart.png")
    assert decode_png((tmp_path / "chart.png").read_bytes())[:2] == (720, 260)


def test_nice_steps_are_round() -> None:
    assert nice_step(4.4) == 1 and nice_step(37) == 10 and nice_step(0.9) == 0.2


HEADER = (
    '"Type","Name","Request Count","Failure Count","Median Response Time","Average Response Time",'
    '"Min Response Time","Max Response Time","Average Content Size","Requests/s","Failures/s",'
    '"50%","66%","75%","80%","90%","95%","98%","99%","99.9%","99.99%","100%"'
)
HISTORY = (
    '"Timestamp","User Count","Type","Name","Requests/s","Failures/s","50%","66%","75%","80%","90%","95%",'
    '"98%","99%","99.9%","99.99%","100%","Total Request Count","Total Failure Count"'
)


def test_report_from_locust_csv(tmp_path: Path) -> None:
    prefix = tmp_path / "locust"
    rows = ['"SSE","ttft",10,0,400,420,100,900,0,1.0,0,400,450,500,550,700,800,900,900,900,900,900',
            '"SSE","answer",10,1,2000,2100,1500,3000,0,1.0,0.1,2000,2100,2200,2300,2600,2900,3000,3000,3000,3000,3000',
            '"POST","/v1/ask",10,0,20,25,10,90,0,1.0,0,20,20,20,30,40,50,90,90,90,90,90']  # fmt: skip
    (tmp_path / "locust_stats.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    line = '{},5,"SSE","ttft",1.0,0,400,400,400,400,400,{},500,500,500,500,500,{},0'
    history = [HISTORY] + [line.format(1000 + t, 500 + t, t) for t in range(5)]
    (tmp_path / "locust_stats_history.csv").write_text("\n".join(history) + "\n", encoding="utf-8")
    summary = read_summary(prefix)
    assert summary["answer"].p95_ms == 2900 and summary["answer"].failures == 1
    write_report(prefix, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "report-latency.png" in page and "<td>answer</td>" in page
    assert (tmp_path / "report-throughput.png").read_bytes().startswith(b"\x89PNG")
