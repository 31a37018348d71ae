"""Data-quality metrics, quality gates and the run report (report.json + self-contained report.html).

Entry point: :func:`quality.report.write_report`. See docs/report.md.
"""
