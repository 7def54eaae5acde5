import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  readonly label: string;
  readonly values: ReadonlyArray<number | null>;
  readonly color: string;
  /** How a value reads in the legend and on the axis. */
  readonly format: (v: number) => string;
}

interface TimeChartProps {
  /** Unix seconds, one per point. */
  readonly times: readonly number[];
  readonly series: readonly Series[];
  readonly title: string;
  readonly height?: number;
}

/** A time series chart (uPlot), as wide as its container. */
export function TimeChart({ times, series, title, height = 180 }: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const format = series[0]?.format ?? String;
    const chart = new uPlot(
      {
        width: el.clientWidth || 300,
        height,
        title,
        cursor: { drag: { x: false, y: false } },
        axes: [{}, { values: (_u, ticks) => ticks.map(format), size: 60 }],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: (_u: uPlot, v: number | null) => (v === null ? "—" : s.format(v)), spanGaps: false }))],
      },
      [[], ...series.map(() => [])] as unknown as uPlot.AlignedData,
      el,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change, not on every new point.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, title, height]);

  useEffect(() => {
    plot.current?.setData([times as number[], ...series.map((s) => s.values as (number | null)[])] as uPlot.AlignedData);
  }, [times, series]);

  return <div ref={box} className="chart" role="img" aria-label={title} />;
}
