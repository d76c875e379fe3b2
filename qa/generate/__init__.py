"""Answer composition for chat: extractive by default, LLM-generated with checked citations."""
