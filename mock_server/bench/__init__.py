"""``scalekit-mock bench``, by concern: the vocabulary (``report``), the load generators (``load``), the mock
in a child process (``children``), the measurements (``throughput``, ``startup``, ``memory``), and the command
that runs them and prints the table (``command``). This module only re-exports the public names."""

from __future__ import annotations

from .children import FORM, ServedMock, plans, send, served_mock, token_request
from .command import Options, main, parse_options, render, run
from .load import drive, parse_wrk, pick_load, python_load, wrk_load, wrk_script
from .memory import measure_memory, status_mib
from .report import BenchError, Figure, Load, LoadResult, Report, Request
from .startup import measure_first_token, measure_start
from .throughput import measure_throughput, sign_in_processes, sign_in_threads

__all__ = ["FORM", "BenchError", "Figure", "Load", "LoadResult", "Options", "Report", "Request", "ServedMock", "drive",
           "main", "measure_first_token", "measure_memory", "measure_start", "measure_throughput", "parse_options",
           "parse_wrk", "pick_load", "plans", "python_load", "render", "run", "send", "served_mock",
           "sign_in_processes", "sign_in_threads", "status_mib", "token_request", "wrk_load", "wrk_script"]
