"""Generated text pairs for equality properties: values people's data holds, and the variants it comes in."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st


def _apply(functions, text: str) -> str:
    for f in functions:
        text = f(text)
    return text


# Characters whose comparison the documentation leaves to case mapping, locale or storage rules.
TRICKY = ("aAbBeEsSkKiIİı" "\u00df\u1e9e" "\u00e9\u00c9\u0301" "\ufb01" "\u03c3\u03c2\u03a3" "\u212a\u017f"
          " \t\n\r\x0b\x00\u00a0\u3000")
TEXT = st.text(st.sampled_from(TRICKY), min_size=1, max_size=12)
# B derived from A the ways people's data varies, or unrelated.
VARIANTS = [str.upper, str.lower, str.casefold, str.title, str.swapcase, lambda s: f"  {s}\t", lambda s: f"\u00a0{s}",
            lambda s: unicodedata.normalize("NFD", s), lambda s: unicodedata.normalize("NFC", s),
            lambda s: s.replace("i", "\u0130"), lambda s: s.replace("I", "\u0131"), lambda s: s.replace("ss", "\u00df")]
PAIRS = st.one_of(st.tuples(TEXT, TEXT),
                  st.builds(lambda a, fs: (a, _apply(fs, a)), TEXT, st.lists(st.sampled_from(VARIANTS), max_size=3)))
JAVA_TRIM = "".join(map(chr, range(0x21)))  # Salesforce saves text as Java's String.trim() leaves it
