"""Text from documents and users made inert before it enters a prompt: injection-like phrases,
special and role tokens, prompt delimiters and [n] markers."""

from __future__ import annotations

import re

_SPECIAL_TOKEN = re.compile(
    r"<\|[^<>|]{0,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<\|?(?:im_start|im_end|endoftext)\|?>", re.I
)
_ROLE_MARK = re.compile(r"(?im)(^|[\n\r]|###\s*)\s*(system|assistant|user|human|instruction|response)\s*:")
_DELIMITER = re.compile(r"<\s*/?\s*sources\s*>", re.I)
_MARKER = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")


_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,60}?\b(?:instructions?|prompts?|rules|directions)\b[^.!?\n]*"
    r"|\b(?:reply|respond|answer|output|print|say)\s+(?:only\s+)?(?:with|:)[^.!?\n]*"
    r"|\byou\s+are\s+now\b[^.!?\n]*|\b(?:new|system)\s+(?:instructions?|prompt)\b[^.!?\n]*",
    re.I,
)
INJECTION_REDACTED = "[instruction-like text removed]"


_POSED_ROLE = re.compile(r"^\W*(?:assistant|system|user|human|ai|bot|chatbot)\s*:", re.I)
_POSED_MARKERS = re.compile(r"(?:^|\s)\[\s*\d+\s*\](?:\s*\[\s*\d+\s*\])+")


def poses_as_model_output(text: str) -> bool:
    """True for a document line dressed as a chat turn ("Assistant: ...") or carrying a run of
    answer-style citation markers (" [1][2]"): what a reader would take for the assistant's words,
    so it is never evidence. Labels ("Chair:", "From:") and footnote marks ("2019.[1]") are."""
    return bool(_POSED_ROLE.match(text) or _POSED_MARKERS.search(text))


def not_evidence(text: str) -> bool:
    """A span that may not be quoted or cited: an instruction to the model, or a line posing as its output."""
    return looks_like_injection(text) or poses_as_model_output(text)


def looks_like_injection(text: str) -> bool:
    """True when `text` holds an instruction aimed at the model ("ignore previous instructions", "reply only with")."""
    return bool(_INJECTION.search(text))


def neutralize(text: str, redact: bool = True) -> str:
    """Text made inert for a prompt: instruction-like phrases redacted (unless `redact` is off, as
    for the user's own words), no special/role tokens, no delimiters, no [n] marks, one line."""
    if redact:
        text = _INJECTION.sub(INJECTION_REDACTED, text)
    text = _SPECIAL_TOKEN.sub(" ", text)
    text = _DELIMITER.sub(" ", text)
    text = _ROLE_MARK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _MARKER.sub("", text)
    return re.sub(r"\s+", " ", text).strip()
