// What a page's main thread spent its longest tasks on, from a Chromium performance trace (the
// format the DevTools Performance panel opens): for each, what Chromium did inside it (script, style,
// layout, paint, garbage collection) and which JavaScript functions took the time.
import type { Browser } from "playwright-core";

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  id?: string;
  args?: { name?: string; data?: Record<string, unknown> };
}

/** Tasks, timeline events and JavaScript samples (the CPU profiler, which attributes time to functions). */
const CATEGORIES = ["-*", "toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink.user_timing", "disabled-by-default-v8.cpu_profiler", "v8"];

/** Runs `work` with the whole browser traced; the trace's JSON. */
export async function traced(browser: Browser, work: () => Promise<void>): Promise<Buffer> {
  await browser.startTracing(undefined, { categories: CATEGORIES });
  try {
    await work();
  } catch (err) {
    await browser.stopTracing();
    throw err;
  }
  return browser.stopTracing();
}

export interface TaskProfile {
  /** ms from the first task of the thread. */
  at: number;
  ms: number;
  /** Timeline events directly inside the task, ms by name (script run, parse, layout, GC…). */
  inside: Array<[string, number]>;
  /** JavaScript functions by self time within the task, ms (sampled, so approximate). */
  functions: Array<[string, number]>;
}

export interface MainThreadReport {
  /** The longest tasks, longest first, with what ran in them. */
  longest: TaskProfile[];
}

const top = (m: Map<string, number>, n: number): Array<[string, number]> =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => [k, Math.round(v * 10) / 10]);

/**
 * The renderer main thread with the most task time (the page under test: other pages are idle or
 * closed) and its tasks. `keep` longest tasks get a breakdown.
 */
export function mainThreadReport(traceJson: Buffer | string, keep = 5): MainThreadReport {
  const parsed = JSON.parse(traceJson.toString()) as { traceEvents: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(parsed) ? parsed : parsed.traceEvents;
  const mains = new Set(events.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (!mains.has(key)) continue;
    let list = byThread.get(key);
    if (!list) byThread.set(key, (list = []));
    list.push(e);
  }
  const isTask = (e: TraceEvent): boolean => e.ph === "X" && (e.name === "RunTask" || e.name === "ThreadControllerImpl::RunTask") && e.dur !== undefined;
  const taskTime = (list: TraceEvent[]): number => list.filter(isTask).reduce((n, e) => n + e.dur!, 0);
  const thread = [...byThread.values()].sort((a, b) => taskTime(b) - taskTime(a))[0];
  if (!thread) return { longest: [] };

  // Top-level tasks only: a nested run loop's tasks lie inside another.
  const all = thread.filter(isTask).sort((a, b) => a.ts - b.ts);
  const tasks: TraceEvent[] = [];
  for (const t of all) {
    const last = tasks.at(-1);
    if (!last || t.ts >= last.ts + last.dur!) tasks.push(t);
  }
  const origin = tasks[0]?.ts ?? 0;
  const longest = [...tasks].sort((a, b) => b.dur! - a.dur!).slice(0, keep);

  const samples = cpuSamples(events, thread[0]!.pid, thread[0]!.tid);
  const spans = thread.filter((e) => e.ph === "X" && e.dur !== undefined && !isTask(e));
  return {
    longest: longest.map((t) => {
      const end = t.ts + t.dur!;
      const inside = new Map<string, number>();
      // Direct children: events within the task not within another event within it.
      const within = spans.filter((e) => e.ts >= t.ts && e.ts + e.dur! <= end).sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
      let coveredTo = -1;
      for (const e of within) {
        if (e.ts < coveredTo) continue;
        coveredTo = e.ts + e.dur!;
        inside.set(e.name, (inside.get(e.name) ?? 0) + e.dur! / 1000);
      }
      const functions = new Map<string, number>();
      for (const s of samples) if (s.ts >= t.ts && s.ts < end) functions.set(s.frame, (functions.get(s.frame) ?? 0) + s.ms);
      return { at: Math.round((t.ts - origin) / 1000), ms: Math.round(t.dur! / 100) / 10, inside: top(inside, 8), functions: top(functions, 12) };
    }),
  };
}

interface Sample {
  ts: number;
  ms: number;
  frame: string;
}

/** The CPU profiler's samples on one thread: when, for how long, and the function on top of the stack. */
function cpuSamples(events: TraceEvent[], pid: number, tid: number): Sample[] {
  const profiles = events.filter((e) => e.name === "Profile" && e.pid === pid && e.tid === tid);
  const out: Sample[] = [];
  for (const profile of profiles) {
    const frames = new Map<number, string>();
    let ts = Number((profile.args?.data as { startTime?: number } | undefined)?.startTime ?? profile.ts);
    const chunks = events.filter((e) => e.name === "ProfileChunk" && e.pid === pid && e.id === profile.id);
    for (const chunk of chunks) {
      const data = chunk.args?.data as { cpuProfile?: { nodes?: Array<{ id: number; callFrame: { functionName: string; url?: string; lineNumber?: number; columnNumber?: number } }>; samples?: number[] }; timeDeltas?: number[] };
      for (const node of data.cpuProfile?.nodes ?? []) {
        const f = node.callFrame;
        const where = f.url ? ` ${f.url.replace(/^.*\//, "")}:${(f.lineNumber ?? 0) + 1}:${(f.columnNumber ?? 0) + 1}` : "";
        frames.set(node.id, `${f.functionName || "(anonymous)"}${where}`);
      }
      const ids = data.cpuProfile?.samples ?? [];
      const deltas = data.timeDeltas ?? [];
      for (let i = 0; i < ids.length; i++) {
        ts += deltas[i] ?? 0;
        const next = deltas[i + 1] ?? 0;
        out.push({ ts, ms: next / 1000, frame: frames.get(ids[i]!) ?? "?" });
      }
    }
  }
  return out;
}

/** The longest tasks, a line each: when, how long, what Chromium did in them, then the JavaScript that took the most. */
export function describeLongest(report: MainThreadReport): string {
  const list = (pairs: Array<[string, number]>): string => pairs.map(([name, ms]) => `${name} ${ms}`).join(", ");
  return report.longest.map((t) => `  ${t.ms} ms at ${t.at} ms: ${list(t.inside)}\n    JavaScript: ${list(t.functions.slice(0, 6))}`).join("\n");
}
