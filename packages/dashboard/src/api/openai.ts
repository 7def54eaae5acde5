import { createParser } from "eventsource-parser";
import { call } from "./client.js";

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

interface ChatChunk {
  choices?: Array<{ delta?: { content?: string | null; reasoning_content?: string | null } }>;
  error?: { message?: string };
}

/**
 * POST /v1/chat/completions with stream: true; `onText` gets each piece of text as it arrives.
 * Resolves when the stream ends; rejects with the gateway's message, or an AbortError on stop.
 */
export async function streamChat(model: string, messages: readonly ChatMessage[], options: { maxTokens?: number; signal: AbortSignal }, onText: (text: string) => void): Promise<void> {
  const res = await call("/v1/chat/completions", {
    json: { model, messages, stream: true, ...(options.maxTokens ? { max_tokens: options.maxTokens } : {}) },
    signal: options.signal,
  });
  let failure: string | null = null;
  const parser = createParser({
    onEvent: (event) => {
      if (event.data === "[DONE]") return;
      const chunk = JSON.parse(event.data) as ChatChunk;
      // After the first byte a failure can only come as an SSE error event.
      if (chunk.error) failure = chunk.error.message ?? "The stream failed.";
      const text = chunk.choices?.[0]?.delta?.content;
      if (text) onText(text);
    },
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  if (failure) throw new Error(failure);
}
