"""Repetition loops: a small model may repeat a phrase until the token limit ("The Council of the
Council of the Council of ..."). `stop_loops` watches a token stream and ends it at the first loop,
so a loop costs a second, not a minute, and the looping tail is never shown or verified."""

from __future__ import annotations

import re
from typing import Iterator

LOOP_MAX_PERIOD = 12
"""Longest repeated phrase looked for, in words."""
LOOP_REPEATS = 3
"""A phrase of two or more words repeated this many times in a row is a loop..."""
LOOP_REPEATS_ONE_WORD = 6
"""...and one word this many times ("very very very ..." is rare in a real answer)."""

LOOP_HOLD_WORDS = 2 * LOOP_MAX_PERIOD
"""Words held back from the screen so that a loop's copies are caught before they are shown."""

_WORD = re.compile(r"\S+")
_NUMBER = re.compile(r"\d+")
"""Numbers compare equal in a loop: a counted loop ("4. David B. 5. David B. 6. David B.") is a loop."""


def loop_start(text: str) -> int | None:
    """Offset in `text` where a repetition loop at its end begins (after the first copy of the
    repeated phrase), or None when the end of `text` does not loop. Digits count as one symbol."""
    matches = list(_WORD.finditer(text))
    tokens = [_NUMBER.sub("#", m.group().lower().strip(".,;:!?\"'()")) for m in matches]
    n = len(tokens)
    for period in range(1, LOOP_MAX_PERIOD + 1):
        need = LOOP_REPEATS_ONE_WORD if period == 1 else LOOP_REPEATS
        if n < period * need:
            break
        block = tokens[n - period:]
        if not any(block):
            continue
        repeats = 1
        while repeats * period + period <= n and tokens[n - (repeats + 1) * period:n - repeats * period] == block:
            repeats += 1
        if repeats >= need:
            first_copy_end = n - (repeats - 1) * period
            return matches[first_copy_end].start()
    return None


def stop_loops(pieces: Iterator[str], hold_words: int = LOOP_HOLD_WORDS) -> Iterator[str]:
    """Pass the pieces of a stream through until its text ends in a loop; then stop (closing the
    underlying stream) without yielding the repeated copies. The last `hold_words` words are held
    back until more text shows they do not start a loop (about half a second of tokens)."""
    text = ""
    sent = 0
    try:
        for piece in pieces:
            text += piece
            window_start = max(0, len(text) - 4000)
            cut = loop_start(text[window_start:])
            if cut is not None:
                end = window_start + cut
                if end > sent:
                    yield text[sent:end].rstrip()
                return
            starts = [m.start() for m in _WORD.finditer(text, max(sent, window_start))]
            if len(starts) > hold_words:
                safe = starts[-hold_words]
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
        if len(text) > sent:
            yield text[sent:]
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
