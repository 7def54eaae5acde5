// Where the built dashboard lives, for the gateway to serve (`vite build` writes it).
import { fileURLToPath } from "node:url";

export const dashboardDir = fileURLToPath(new URL("./dist/", import.meta.url));
