import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartPoint } from '../../client/berth-client.js';

export interface ChartSpec {
  readonly title: string;
  readonly unit: string;
  readonly pick: (p: ChartPoint) => number | null;
  readonly scale?: (v: number) => number;
}

/** A small line chart of the last hour (uPlot: canvas, no framework of its own). */
export function Chart({ spec, points }: { spec: ChartSpec; points: readonly ChartPoint[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const width = Math.max(240, element.clientWidth);
    plot.current = new uPlot(
      {
        width,
        height: 140,
        legend: { show: false },
        // The last hour at most; a single point still gets a minute either side.
        scales: { x: { time: true, range: (_u, min, max) => (max - min < 120 ? [min - 60, max + 60] : [min, max]) } },
        axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((t) => `${t}${spec.unit}`) }],
        series: [{}, { label: spec.title, stroke: '#2f6fdb', width: 2, spanGaps: true }],
      },
      [[], []],
      element,
    );
    const onResize = () => plot.current?.setSize({ width: Math.max(240, element.clientWidth), height: 140 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [spec]);
  useEffect(() => {
    const xs = points.map((p) => Date.parse(p.at) / 1000);
    const ys = points.map((p) => {
      const v = spec.pick(p);
      return v === null ? null : spec.scale ? spec.scale(v) : v;
    });
    plot.current?.setData([xs, ys as number[]]);
  }, [points, spec]);
  const latest = [...points].reverse().find((p) => spec.pick(p) !== null);
  const now = latest ? spec.pick(latest) : null;
  return (
    <figure class="chart">
      <figcaption>
        {spec.title}: <strong>{now === null ? 'no data yet' : `${(spec.scale ? spec.scale(now) : now).toFixed(2)}${spec.unit}`}</strong>
      </figcaption>
      <div ref={box} />
    </figure>
  );
}
