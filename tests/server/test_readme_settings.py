"""The README's operator table lists every setting the server reads, with its default."""

from pathlib import Path

from server.config import settings_markdown

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_row_is_in_the_readme():
    rows = [line for line in settings_markdown().splitlines() if line.startswith("| `SFDEST_")]
    assert len(rows) > 20
    missing = [row.split("|")[1].strip() for row in rows if row not in README]
    assert missing == []
