"""Inline SVG charts (quality.charts) and the report model's version check; no Spark."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pydantic import ValidationError

from quality.charts import COLORS, column_chart, fmt_num, funnel_chart, hbar_chart, histogram_chart, paired_hbar_chart
from schemas.report import Report

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg" and root.get("class") == "chart" and root.find(f"{SVG}title") is not None
    return [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]


def test_hbar_one_bar_per_positive_value_scaled_to_the_largest():
    bars = _bars(
        hbar_chart("x", "Removed <by> reason", [("a:<b>", 10), ("c", 5), ("zero", 0)], color=COLORS["removed"])
    )
    assert len(bars) == 2 and {b.get("fill") for b in bars} == {COLORS["removed"]}
    assert float(bars[0].get("width")) == pytest.approx(2 * float(bars[1].get("width")))


def test_funnel_histogram_column_and_paired_charts():
    assert len(_bars(funnel_chart("f", "Funnel", [("ingest", 90, 10), ("quality", 80, 10), ("bias", 80, 0)]))) == 5
    bars = _bars(histogram_chart("h", "Hist", [0, 1, 2, 3], kept=[3, 0, 1], removed=[1, 2, 0]))
    assert sorted(b.get("fill") for b in bars) == sorted([COLORS["kept"]] * 2 + [COLORS["removed"]] * 2)
    assert len(_bars(column_chart("c", "Clusters", [("2", 10), ("5", 1), ("9", 0)], log=True))) == 2
    assert len(_bars(paired_hbar_chart("p", "Mix", [("en", 0.5, 0.7), ("de", 0.5, 0.0)]))) == 3


def test_nothing_to_draw_gives_no_chart():
    assert hbar_chart("x", "t", []) == "" and hbar_chart("x", "t", [("a", 0)]) == ""
    assert funnel_chart("f", "t", [("a", 0, 0)]) == ""
    assert histogram_chart("h", "t", [0, 1], [0], [0]) == ""
    assert column_chart("c", "t", []) == "" and paired_hbar_chart("p", "t", [("a", 0, 0)]) == ""


def test_labels_are_escaped():
    svg = hbar_chart("x", "t", [("<script>alert(1)</script>", 1)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_fmt_num():
    assert [fmt_num(v) for v in (0, 12, 1234, 12345, 2_500_000, 3.2e9, 0.01234, 123.4)] == [
        "0", "12", "1234", "12.3k", "2.5M", "3.2G", "0.0123", "123"]


def test_report_version_is_checked():
    with pytest.raises(ValidationError, match="report_version 99 is not supported"):
        Report.model_validate({"report_version": 99})
