#!/usr/bin/env node
import { runService } from "@omnigate/server-kit/service";
import { loadConfig } from "./config.js";
import { dashboardGreeting } from "./dashboard/dashboard-greeting.js";
import { createLogger } from "./logger.js";
import { startGateway, type RunningGateway } from "./server.js";

function started(gateway: RunningGateway, logger: ReturnType<typeof createLogger>): void {
  // The fingerprint is public: an agent on another box pins it to trust this gateway on first contact.
  const fingerprint = gateway.tls.ca.fingerprint;
  console.log(`omnigate cluster CA ${fingerprint} (agents join with OMNIGATE_CA_FINGERPRINT=${fingerprint})`);
  for (const line of dashboardGreeting(gateway)) console.log(line);
  // SIGHUP: re-read the front door's certificate now (it is also re-read when its files change).
  process.on("SIGHUP", () => {
    const changed = gateway.reloadTls();
    logger.info({ changed }, changed ? "SIGHUP: serving the new front door certificate" : "SIGHUP: front door certificate unchanged");
  });
}

void runService({ name: "gateway", loadConfig: () => loadConfig(), createLogger, start: startGateway, started });
