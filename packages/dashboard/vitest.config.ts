import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "dashboard",
    include: ["test/**/*.test.ts"],
    // A real browser against a real gateway and agent: slower than the other suites.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
