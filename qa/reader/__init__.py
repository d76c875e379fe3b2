"""Span reader: a LoRA-tuned multilingual e5 that marks the answer in a passage (torch)."""
