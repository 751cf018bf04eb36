"""Renderers over a finished or partial sweep. Pure: values in, text out."""

from __future__ import annotations

from netcheck.report.json_report import SCHEMA_VERSION, render_json, sweep_to_dict
from netcheck.report.plan_report import render_plan_json, render_plan_table
from netcheck.report.table import render_table

__all__ = [
    "SCHEMA_VERSION",
    "render_json",
    "render_plan_json",
    "render_plan_table",
    "render_table",
    "sweep_to_dict",
]
