#!/usr/bin/env node
import { runService } from "@omnigate/server-kit/service";
import { loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startGateway } from "./server.js";

void runService({ name: "gateway", loadConfig: () => loadConfig(), createLogger, start: startGateway });
