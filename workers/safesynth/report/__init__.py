"""The evaluation report: one self-contained offline HTML file (jinja2 templates, inline SVG charts)."""

from safesynth.report.render import render_report

__all__ = ["render_report"]
