import { useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { streamChat, type ChatMessage } from "../api/openai.js";
import { ErrorNote } from "../components/error-note.js";
import { ModelSelect } from "./model-select.js";

/** Chat with streaming: tokens show as they arrive; Stop ends the request (and the engine's work). */
export function Chat() {
  const [model, setModel] = useState("");
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [input, setInput] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [streaming, setStreaming] = useState(false);
  const abort = useRef<AbortController | null>(null);

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    const text = input.trim();
    if (!text || !model || streaming) return;
    const history: ChatMessage[] = [...messages, { role: "user", content: text }];
    setMessages([...history, { role: "assistant", content: "" }]);
    setInput("");
    setError(null);
    setStreaming(true);
    const controller = new AbortController();
    abort.current = controller;
    try {
      await streamChat(model, history, { signal: controller.signal, maxTokens: 512 }, (piece) =>
        setMessages((all) => {
          const last = all.at(-1)!;
          return [...all.slice(0, -1), { ...last, content: last.content + piece }];
        }),
      );
    } catch (err) {
      if ((err as Error).name !== "AbortError") setError(err);
    } finally {
      setStreaming(false);
      abort.current = null;
    }
  };

  // Enter sends; Shift+Enter is a new line.
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) void send(e as unknown as FormEvent);
  };

  return (
    <section aria-label="Chat">
      <div className="grid">
        <label>
          Model
          <ModelSelect id="chat-model" capability="chat" value={model} onChange={setModel} />
        </label>
        <div className="toolbar-end">
          <button type="button" className="secondary outline" onClick={() => setMessages([])} disabled={streaming || messages.length === 0}>
            Clear conversation
          </button>
        </div>
      </div>
      <ol className="chat-log" aria-label="Conversation" aria-live="polite" aria-busy={streaming}>
        {messages.map((m, i) => (
          <li key={i} className={`chat-${m.role}`}>
            <strong>{m.role === "user" ? "You" : model}</strong>
            <p className="pre" data-testid={m.role === "assistant" ? "assistant-text" : undefined}>
              {m.content || (streaming && i === messages.length - 1 ? "…" : "")}
            </p>
          </li>
        ))}
      </ol>
      <ErrorNote error={error} />
      <form onSubmit={(e) => void send(e)}>
        <label>
          Message
          <textarea value={input} onChange={(e) => setInput(e.target.value)} onKeyDown={onKey} rows={3} placeholder="Ask something (Enter sends, Shift+Enter for a new line)" />
        </label>
        <div role="group">
          <button type="submit" disabled={streaming || !model || !input.trim()}>
            Send
          </button>
          <button type="button" className="secondary" onClick={() => abort.current?.abort()} disabled={!streaming}>
            Stop
          </button>
        </div>
      </form>
    </section>
  );
}
