import { lazy, Suspense, useEffect, useMemo } from "react";
import { Link } from "wouter";
import { useModels, useNodes, useStats } from "../api/live.js";
import { ErrorNote } from "../components/error-note.js";
import type { Series } from "../components/time-chart.js";
import { formatMs, formatPercent } from "../format.js";
import { PageTitle } from "./page-title.js";

function Stat({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <article className="stat">
      <h2>{label}</h2>
      <p className="stat-value">{value}</p>
      {detail ? <small>{detail}</small> : null}
    </article>
  );
}

// The chart library loads after the figures show: they are what the page is for.
const TimeChart = lazy(() => import("../components/time-chart.js").then((m) => ({ default: m.TimeChart })));

export const OVERVIEW_RENDERED = "omnigate:overview-rendered";

/** The fleet at a glance: capacity up, models ready, and the gateway's traffic over 15 minutes. */
export function Overview() {
  const nodes = useNodes();
  const models = useModels();
  const stats = useStats();

  const loaded = nodes.data !== undefined && models.data !== undefined;
  useEffect(() => {
    // User Timing: when the page first showed the fleet (the browser suite reads it as a budget).
    if (loaded && performance.getEntriesByName(OVERVIEW_RENDERED).length === 0) performance.mark(OVERVIEW_RENDERED);
  }, [loaded]);

  const online = nodes.data?.filter((n) => n.online).length;
  const ejected = nodes.data?.filter((n) => n.ejected_until !== null).length ?? 0;
  const ready = models.data?.filter((m) => m.ready).length;
  const s = stats.data;

  const charts = useMemo(() => {
    if (!s) return null;
    const times = s.series.map((b) => b.start / 1000);
    const rate: Series[] = [
      { label: "requests/s", color: "#2563eb", values: s.series.map((b) => b.requests / s.bucket_s), format: (v) => v.toFixed(v < 10 ? 1 : 0) },
      { label: "errors/s", color: "#dc2626", values: s.series.map((b) => b.errors / s.bucket_s), format: (v) => v.toFixed(v < 10 ? 1 : 0) },
    ];
    const latency: Series[] = [
      { label: "p50", color: "#2563eb", values: s.series.map((b) => b.latency.p50_ms), format: formatMs },
      { label: "p99", color: "#9333ea", values: s.series.map((b) => b.latency.p99_ms), format: formatMs },
      { label: "first token p50", color: "#059669", values: s.series.map((b) => b.ttft.p50_ms), format: formatMs },
    ];
    return { times, rate, latency };
  }, [s]);

  const failing = (models.data ?? []).flatMap((m) => m.nodes.filter((n) => n.state === "failed").map((n) => ({ model: m.id, node: n.runtime_id, error: n.error })));

  return (
    <>
      <PageTitle title="Overview" />
      <ErrorNote error={nodes.error ?? models.error ?? stats.error} />
      <section className="stats" aria-label="Fleet and traffic">
        <Stat label="Nodes online" value={online === undefined ? "…" : `${online} / ${nodes.data!.length}`} detail={ejected ? `${ejected} ejected` : undefined} />
        <Stat label="Models ready" value={ready === undefined ? "…" : `${ready} / ${models.data!.length}`} />
        <Stat label="Requests / s" value={s ? s.requests_per_s.toFixed(s.requests_per_s < 10 ? 2 : 0) : "…"} detail={s ? `${s.requests} in ${s.window_s / 60} min` : undefined} />
        <Stat label="Error rate" value={s ? formatPercent(s.error_rate) : "…"} detail={s ? `${s.errors} answered 5xx` : undefined} />
        <Stat label="Latency p50" value={s ? formatMs(s.latency.p50_ms) : "…"} detail={s ? `p99 ${formatMs(s.latency.p99_ms)}` : undefined} />
        <Stat label="First token p50" value={s ? formatMs(s.ttft.p50_ms) : "…"} detail={s ? `p99 ${formatMs(s.ttft.p99_ms)}` : undefined} />
      </section>
      {charts ? (
        <section className="grid charts" aria-label="Last 15 minutes">
          <Suspense fallback={null}>
            <TimeChart title="Requests per second (last 15 min)" times={charts.times} series={charts.rate} />
            <TimeChart title="Latency (last 15 min)" times={charts.times} series={charts.latency} />
          </Suspense>
        </section>
      ) : null}
      {failing.length ? (
        <section aria-labelledby="attention">
          <h2 id="attention">Needs attention</h2>
          <ul>
            {failing.map((f) => (
              <li key={`${f.model}|${f.node}`}>
                <Link href="/models">{f.model}</Link> failed on node <code>{f.node.slice(0, 8)}</code>: <span className="pre">{f.error ?? "unknown error"}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}
