"""The judge's network: the MiniLM encoder with a relevance head and an answer-span head.

One forward pass over "[CLS] question [SEP] passage [SEP]" gives
- `relevance`: one logit from the [CLS] state, P(passage answers question) = sigmoid(logit);
- `start`, `end`: a logit per token for the answer's first and last token (padding masked), with
  [CLS] standing for "no answer here", as in SQuAD 2.0 readers.
The span head is trained beside the relevance head (it makes the encoder look for the answer) and
is used at run time to pick the quoted sentence. Saved as a Hugging Face encoder folder plus
`heads.pt`; `build`/`load` import torch and transformers lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HEADS_FILE = "heads.pt"


def build(encoder_dir: Path, heads: Path | None = None) -> Any:
    """A JudgeNet over the encoder in `encoder_dir`, heads fresh (seeded by the caller) or from `heads`."""
    import torch
    from transformers import AutoModel

    class JudgeNet(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder
            width = encoder.config.hidden_size
            self.relevance = torch.nn.Linear(width, 1)
            self.span = torch.nn.Linear(width, 2)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple[Any, Any, Any]:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            relevance = self.relevance(hidden[:, 0]).squeeze(-1)
            span = self.span(hidden)
            pad = attention_mask == 0
            start = span[..., 0].masked_fill(pad, -1e4)
            end = span[..., 1].masked_fill(pad, -1e4)
            return relevance, start, end

    net = JudgeNet(AutoModel.from_pretrained(str(encoder_dir), local_files_only=True))
    if heads is not None:
        state = torch.load(str(heads), map_location="cpu", weights_only=True)
        net.relevance.load_state_dict(state["relevance"])
        net.span.load_state_dict(state["span"])
    return net


def save(net: Any, tokenizer: Any, out: Path) -> None:
    """The encoder and tokenizer as a Hugging Face folder, the two heads in `heads.pt`."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    net.encoder.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    torch.save({"relevance": net.relevance.state_dict(), "span": net.span.state_dict()}, str(out / HEADS_FILE))


def load(folder: Path) -> Any:
    """The JudgeNet saved by `save` in `folder`, in eval mode."""
    return build(folder, folder / HEADS_FILE).eval()
