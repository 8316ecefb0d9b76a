"""CSV files a spreadsheet opens safely: no cell the registry writes is taken as a formula.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel, LibreOffice and Google Sheets, and a formula can fetch a URL, run a command (DDE) or
hide what a cell says. As OWASP's CSV injection guidance says, such a cell is written with a
single quote in front (``'=1+1``), which spreadsheets show as text; the csv module quotes
any cell that needs it. A real number (``-5``, ``-1.5``, ``+7``, ``-2e3``) stays a number.
Every CSV the registry writes goes through :func:`csv_text`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    """``value`` as a CSV cell no spreadsheet evaluates: None is empty, numbers stay numbers,
    text that would begin a formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Iterable[object]]) -> str:
    """A CSV document (``\\n`` line endings): the header ``columns``, then ``rows``, every
    cell through :func:`csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(column) for column in columns])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()
