import "@picocss/pico/css/pico.min.css";
import "./styles.css";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createRoot } from "react-dom/client";
import { App } from "./app.js";

const client = new QueryClient({
  defaultOptions: {
    // A failed call says why at once; retrying would only delay the message. The event stream
    // already keeps unchanged nodes the same objects: deep-comparing a fleet's list on every batch
    // (structural sharing) would cost more than it saves.
    queries: { retry: false, refetchOnWindowFocus: false, structuralSharing: false },
  },
});

createRoot(document.getElementById("root")!).render(
  <QueryClientProvider client={client}>
    <App />
  </QueryClientProvider>,
);
