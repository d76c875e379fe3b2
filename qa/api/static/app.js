// The question page: plain DOM, no framework. Passage text only ever goes in text nodes.
"use strict";

(function () {
  const TOP_K = 5;

  const $ = (id) => document.getElementById(id);

  // Python offsets count code points; JS strings count UTF-16 units. Slice by code point.
  function splitAt(text, start, end) {
    const points = Array.from(text);
    return [
      points.slice(0, start).join(""),
      points.slice(start, end).join(""),
      points.slice(end).join(""),
    ];
  }

  // The passage as [before, answer, after]; null (no highlight) if the offsets disagree.
  function highlightParts(text, answer) {
    const parts = splitAt(text, answer.start, answer.end);
    return parts[1] === answer.text ? parts : null;
  }

  // The context as [before, answer, after]; null when it is missing or the offsets disagree.
  function contextParts(answer) {
    const context = answer.context;
    if (!context || context.start > answer.start || context.end < answer.end) return null;
    const parts = splitAt(context.text, answer.start - context.start, answer.end - context.start);
    return parts[1] === answer.text ? parts : null;
  }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) {
      node.append(child); // strings become text nodes, never markup
    }
    return node;
  }

  // A readable sentence for any failed response, whatever its body.
  async function errorMessage(response) {
    let detail = "";
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) detail = body.error.message;
    } catch (_) {
      detail = "";
    }
    const what = detail || response.statusText || "unexpected response";
    return `The service could not do that: ${what} (HTTP ${response.status}).`;
  }

  function networkMessage() {
    return "Could not reach the service. Check that it is running, then try again.";
  }

  function setStatus(node, text, kind) {
    node.textContent = text;
    node.className = "status" + (kind ? " " + kind : "");
    node.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  async function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  }

  function formatScore(score) {
    return typeof score === "number" ? score.toFixed(2) : "";
  }

  function renderSource(source, answer) {
    const title = source.title || source.document_id;
    const passage = el("p", { className: "passage", dir: "auto" });
    const parts = answer && answer.source_id === source.id ? highlightParts(source.text, answer) : null;
    if (parts) {
      passage.append(parts[0], el("mark", {}, [parts[1]]), parts[2]);
    } else {
      passage.append(source.text);
    }
    const item = el("li", { className: "source", id: `source-${source.rank}` }, [
      el("h3", { className: "source-title" }, [
        el("span", { className: "rank" }, [`${source.rank}. `]),
        el("bdi", { dir: "auto" }, [title]),
      ]),
      el("p", { className: "meta" }, [`Score ${formatScore(source.score)}`]),
      passage,
    ]);
    item.dataset.testid = "source";
    item.dataset.sourceId = source.id;
    return item;
  }

  function renderAnswer(body) {
    const answerBox = $("answer");
    const contextBox = $("answer-context");
    const meta = $("answer-meta");
    const answer = body.answer;
    const sources = body.sources || [];
    answerBox.replaceChildren();
    contextBox.replaceChildren();
    contextBox.hidden = true;
    meta.replaceChildren();
    if (answer) {
      answerBox.dataset.state = "answered";
      answerBox.append(answer.text);
      // The clause around the span, span highlighted; not shown when it is the span itself.
      const parts = contextParts(answer);
      if (parts && (parts[0] || parts[2])) {
        contextBox.append(parts[0], el("mark", {}, [parts[1]]), parts[2]);
        contextBox.hidden = false;
      }
      const from = sources.find((s) => s.id === answer.source_id);
      if (from) {
        const link = el("a", { href: `#source-${from.rank}` }, [
          el("bdi", { dir: "auto" }, [from.title || from.document_id]),
        ]);
        meta.append("From ", link, `, confidence ${formatScore(answer.score)}.`);
      }
      $("sources-heading").textContent = "Sources";
    } else {
      answerBox.dataset.state = "abstained";
      answerBox.append("No answer was found in your documents.");
      meta.append(
        sources.length
          ? "These are the nearest passages; none of them answers the question."
          : "No passages matched either.",
      );
      $("sources-heading").textContent = "Nearest passages";
    }
    $("sources").replaceChildren(...sources.map((s) => renderSource(s, answer)));
    $("results").hidden = false;
  }

  async function ask(event) {
    event.preventDefault();
    const input = $("question");
    const status = $("ask-status");
    const question = input.value.trim();
    if (!question) {
      setStatus(status, "Type a question first.", "error");
      input.focus();
      return;
    }
    const button = $("ask-button");
    button.disabled = true;
    $("results").setAttribute("aria-busy", "true");
    setStatus(status, "Looking for an answer…", "busy");
    try {
      const response = await postJSON("/v1/ask", { question: input.value, top_k: TOP_K });
      if (!response.ok) {
        $("results").hidden = true;
        setStatus(status, await errorMessage(response), "error");
        return;
      }
      const body = await response.json();
      renderAnswer(body);
      setStatus(status, body.answer ? "Answer found." : "No answer was found.", "");
    } catch (_) {
      $("results").hidden = true;
      setStatus(status, networkMessage(), "error");
    } finally {
      button.disabled = false;
      $("results").removeAttribute("aria-busy");
    }
  }

  function addedMessage(body, label) {
    const docs = (body && body.documents) || [];
    const passages = docs.reduce((n, d) => n + d.passages, 0);
    const name = label || docs.map((d) => d.id).join(", ");
    const verb = docs.some((d) => d.replaced) ? "Replaced" : "Added";
    const count = `${passages} passage${passages === 1 ? "" : "s"}`;
    return `${verb} “${name}” (${count}). Ask a question about it above.`;
  }

  async function submitDocument(form, makeRequest) {
    const status = $("add-status");
    const button = form.querySelector("button");
    const made = makeRequest();
    if (made.problem) {
      setStatus(status, made.problem, "error");
      return;
    }
    button.disabled = true;
    setStatus(status, "Adding the document…", "busy");
    try {
      const response = await made.send();
      if (!response.ok) {
        setStatus(status, await errorMessage(response), "error");
        return;
      }
      setStatus(status, addedMessage(await response.json(), made.label), "ok");
      form.reset();
    } catch (_) {
      setStatus(status, networkMessage(), "error");
    } finally {
      button.disabled = false;
    }
  }

  // Each returns {problem} when the form is incomplete, else {label, send}.
  function pasteRequest() {
    const text = $("doc-text").value;
    if (!text.trim()) return { problem: "Paste some text first." };
    const title = $("doc-title").value.trim();
    return {
      label: title,
      send: () => postJSON("/v1/documents", { documents: [{ title, text }] }),
    };
  }

  function uploadRequest() {
    const file = $("doc-file").files[0];
    if (!file) return { problem: "Choose a file first." };
    const data = new FormData();
    data.append("file", file, file.name);
    return {
      label: file.name,
      send: () => fetch("/v1/documents", { method: "POST", body: data }),
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("ask-form").addEventListener("submit", ask);
    const paste = $("paste-form");
    paste.addEventListener("submit", (e) => {
      e.preventDefault();
      submitDocument(paste, pasteRequest);
    });
    const upload = $("upload-form");
    upload.addEventListener("submit", (e) => {
      e.preventDefault();
      submitDocument(upload, uploadRequest);
    });
  });
})();
