"""Rendering a client suite's report (shared with the provider suite: ``contract_tests.report``)."""

from __future__ import annotations

from ..report import details, junit_xml, markdown, table, write_json, write_junit, write_markdown

__all__ = ["details", "junit_xml", "markdown", "table", "write_json", "write_junit", "write_markdown"]
