"""Text files read strictly: every problem names the file, the line and the fix.

pandas alone fills a CSV row that has too few fields with NaN (the row then passes for a missing
value), and reports an undecodable byte at an offset inside its read buffer, not the file. Here
the bytes are decoded first, whole (:func:`decode_text`: the error gives the line, the byte offset
in the file and the ``--data.encoding`` fix), and every record of a table is checked to have as
many fields as its header before pandas parses it (:func:`read_delimited`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preprocessing.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_fields", "decode_text", "read_delimited"]


def decode_text(path: str | Path, encoding: str = "utf-8", option: str | None = "--data.encoding") -> str:
    """The whole file as text; undecodable bytes are an error naming the line, the byte offset and ``option``.

    ``option`` is the setting that fixes it (``None`` where there is none: re-save the file as UTF-8).
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode(encoding).removeprefix("\ufeff")  # a byte-order mark (Excel's UTF-8) is no text
    except LookupError:
        raise UserError(f"{path}: unknown text encoding {encoding!r}; set {option or 'the encoding'} to a "
                        "Python codec name (utf-8, latin-1, cp1252, ...)") from None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        other = "latin-1" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else "utf-8"
        fix = f"set {option} {other} (or the file's own encoding)" if option else "save the file as UTF-8"
        raise UserError(
            f"{path}, line {line}: not {encoding} text (byte {data[err.start]:#x} at byte offset {err.start}); {fix}"
        ) from None


def check_fields(text: str, sep: str, path: str | Path) -> None:
    """Every record of a delimited table has as many fields as its header (blank lines aside).

    Line numbers count physical lines from 1 (the header), as an editor shows them; a quoted
    field may span lines, and a record is named by the line it starts on.
    """
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    expected, end = None, 0
    for fields in reader:
        start, end = end + 1, reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if expected is None:
            expected = len(fields)
        elif len(fields) != expected:
            raise UserError(
                f"{path}, line {start}: {len(fields)} field(s), but the header has {expected} "
                f"(a ragged row): fix the row, or quote a value that holds the separator {sep!r}"
            )


def read_delimited(
    path: str | Path, sep: str, encoding: str = "utf-8", option: str | None = "--data.encoding", **read_csv: Any
) -> pd.DataFrame:
    """A CSV / TSV file decoded and checked as above, then parsed by ``pandas.read_csv(**read_csv)``."""
    import pandas as pd

    text = decode_text(path, encoding, option)
    check_fields(text, sep, path)
    return pd.read_csv(io.StringIO(text), sep=sep, **read_csv)
