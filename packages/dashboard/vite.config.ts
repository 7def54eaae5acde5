import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { compression } from "vite-plugin-compression2";

// The gateway serves dist/ as static files: hashed names under assets/ (cached for a year),
// a .br and a .gz beside each text file (sent to clients that take them), and no inline script, so
// the page runs under a CSP of script-src 'self'. `pnpm --filter @omnigate/dashboard dev` serves it
// with hot reload and passes the API through to a gateway on OMNIGATE_URL (default :8080).
const gateway = process.env.OMNIGATE_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react(), compression({ algorithms: ["gzip", "brotliCompress"], threshold: 512 })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Inlined assets would become data: URLs; files keep the CSP simple.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    // A slow shared machine makes the bundler report its plugins' timings: noise in `pnpm start`.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  // The event stream's worker (src/api/event-worker.ts) is a module like the page's own scripts.
  worker: { format: "es" },
  server: {
    proxy: { "/api": { target: gateway, changeOrigin: true }, "/v1": { target: gateway, changeOrigin: true } },
  },
});
