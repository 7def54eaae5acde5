import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", AbortController: "readonly", AbortSignal: "readonly", fetch: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", performance: "readonly", structuredClone: "readonly", setImmediate: "readonly", queueMicrotask: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "error",
      eqeqeq: ["error", "smart"],
    },
  },
  {
    // The dashboard runs in the browser, with React's rules of hooks.
    files: ["packages/dashboard/src/**/*.{ts,tsx}"],
    ...reactHooks.configs.flat["recommended-latest"],
    languageOptions: { globals: globals.browser },
  },
  {
    // CLIs, benchmarks, test fixtures and tools talk to a terminal.
    files: ["**/cli/**", "**/test/**", "**/bench/**", "tools/**", "packages/testkit/**", "packages/server-kit/src/service.ts", "**/*.test.ts", "**/main.ts"],
    rules: { "no-console": "off" },
  },
);
