"""A scripted OpenAI-compatible chat server (stdlib only), run as its own process by tests.

It speaks POST /v1/chat/completions like vLLM, llama.cpp or Ollama do, but its "model" is a
script chosen by the model name, because no LLM weights exist on these machines:
- "copy-first": copies the first words of passage [1] and cites [1], then adds a claim no
  passage supports citing [2], and a citation of a passage that does not exist [9];
- "no-answer": replies NO_ANSWER;
- "fail": answers HTTP 500.
Every request body is appended (one JSON line) to the log file given on the command line.
"""

from __future__ import annotations

import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PASSAGE_ONE = re.compile(r"\[1\][^\n]*\n(.+?)(?:\n\n\[2\]|\n\nQuestion:)", re.DOTALL)


def reply_for(model: str, prompt: str) -> str:
    """The scripted assistant reply."""
    if model == "no-answer":
        return "NO_ANSWER"
    found = PASSAGE_ONE.search(prompt)
    words = found.group(1).split()[:12] if found else ["nothing"]
    return f"{' '.join(words)} [1]. The moon is made of green cheese [2]. It also rains [9]."


class Handler(BaseHTTPRequestHandler):
    """Serves /v1/chat/completions and /v1/models."""

    log_file: Path

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """List the scripts as models."""
        models = [{"id": m, "object": "model"} for m in ("copy-first", "no-answer", "fail")]
        self._send(200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        """Answer a chat completion by script."""
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        entry = {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        with self.log_file.open("a", encoding="utf-8") as log:
            log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found"}})
            return
        model = body["model"]
        if model == "fail":
            self._send(500, {"error": {"message": "scripted failure"}})
            return
        prompt = body["messages"][-1]["content"]
        self._send(
            200,
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply_for(model, prompt)},
                        "finish_reason": "stop",
                    }
                ],
            },
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def main() -> None:
    """python scripted_llm_server.py PORT LOG_FILE."""
    port, log_file = int(sys.argv[1]), Path(sys.argv[2])
    Handler.log_file = log_file
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
