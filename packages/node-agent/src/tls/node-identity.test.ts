import { X509Certificate, createPrivateKey } from "node:crypto";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { fingerprintOf, makeCa, signCsr, type TestCa } from "@omnigate/testkit/certs";
import { JoinRefusedError, NodeIdentity, type ServedCredentials } from "./node-identity.js";

const DAY = 86_400_000;
let ca: TestCa;
beforeAll(async () => {
  ca = await makeCa("unit cluster CA");
});

function identity(options: { pin?: string; now?: () => number } = {}) {
  const served: ServedCredentials[] = [];
  const id = new NodeIdentity({
    host: "127.0.0.1",
    runtimeId: "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f",
    pin: options.pin,
    serve: (c) => served.push(c),
    logger: pino({ level: "silent" }),
    ...(options.now ? { now: options.now } : {}),
  });
  return { id, served };
}

describe("NodeIdentity", () => {
  it("asks for its host with a fresh key each time, serves the answer, and is due for renewal at half its life", async () => {
    let now = Date.now();
    const { id, served } = identity({ pin: fingerprintOf(ca.certPem), now: () => now });
    const csr = await id.registrationCsr();
    expect(await id.renewalCsr()).toBeUndefined();
    const certificate = await signCsr(ca, csr, { usage: "server", hosts: ["127.0.0.1"], notAfter: new Date(now + 10 * DAY) });
    id.accept({ certificate, ca_certificate: ca.certPem });
    expect(served).toHaveLength(1);
    expect(new X509Certificate(served[0]!.cert).checkPrivateKey(createPrivateKey(served[0]!.key))).toBe(true);
    expect(served[0]!.ca).toBe(ca.certPem);

    now += 4.9 * DAY;
    expect(await id.renewalCsr()).toBeUndefined();
    now += 0.2 * DAY;
    const renewal = await id.renewalCsr();
    expect(renewal).toMatch(/BEGIN CERTIFICATE REQUEST/);
    expect(renewal).not.toBe(csr);
  });

  it("refuses to join when the answer's CA is not the pinned one", async () => {
    const { id, served } = identity({ pin: `sha256:${"0".repeat(64)}` });
    const csr = await id.registrationCsr();
    const certificate = await signCsr(ca, csr, { usage: "server", hosts: ["127.0.0.1"] });
    expect(() => id.accept({ certificate, ca_certificate: ca.certPem })).toThrow(JoinRefusedError);
    expect(served).toEqual([]);
  });

  it("serves nothing that does not fit: another key, another host, another CA's signature, no certificate", async () => {
    const { id, served } = identity();
    const mine = await id.registrationCsr();
    const other = await identity().id.registrationCsr();
    const foreign = await makeCa("foreign");
    const cases = [
      { certificate: await signCsr(ca, other, { usage: "server", hosts: ["127.0.0.1"] }), ca_certificate: ca.certPem, error: /not for this agent's key/ },
      { certificate: await signCsr(ca, mine, { usage: "server", hosts: ["10.9.9.9"] }), ca_certificate: ca.certPem, error: /does not name 127\.0\.0\.1/ },
      { certificate: await signCsr(foreign, mine, { usage: "server", hosts: ["127.0.0.1"] }), ca_certificate: ca.certPem, error: /not signed by the CA it sent/ },
      { ca_certificate: ca.certPem, error: /without a certificate/ },
    ];
    for (const { error, ...answer } of cases) expect(() => id.accept(answer)).toThrow(error);
    expect(served).toEqual([]);
  });
});
