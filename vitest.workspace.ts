// The list of test projects. vitest 4 no longer reads this file by itself; vitest.config.ts imports it.
export default ["packages/shared", "packages/server-kit", "packages/gateway", "packages/node-agent", "packages/testkit", "packages/dashboard", "test"];
