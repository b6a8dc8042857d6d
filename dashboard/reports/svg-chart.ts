import { escapeHtml, formatNumber } from './html-kit.ts';

/**
 * Tiny static SVG charts for the tuning report (scatter, step line, grouped bars). Static SVG
 * needs no script and no library, so the report opens anywhere; time series use
 * lightweight-charts instead.
 */

export interface XY {
  x: number;
  y: number;
  /** tooltip */
  title?: string;
  color?: string;
}

export interface Frame {
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  /** category labels: x values are indices into it */
  xCategories?: readonly string[];
  /** y values drawn as a step line over the points (e.g. best so far) */
  line?: readonly XY[];
}

const PAD = { l: 56, r: 12, t: 10, b: 38 };

/** ~`count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  const span = hi - lo;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9 && out.length < 50; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - (Math.abs(lo) || 1) * 0.5, hi + (Math.abs(hi) || 1) * 0.5];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** Tick label with as many decimals as the tick step needs (integers stay integers). */
function tickText(v: number, step: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(1);
  const decimals = step > 0 ? Math.max(0, Math.min(6, Math.ceil(-Math.log10(step) - 1e-9))) : 2;
  return formatNumber(v, decimals);
}

function ticksWithStep(lo: number, hi: number): { ticks: number[]; step: number } {
  const ticks = niceTicks(lo, hi);
  return { ticks, step: ticks.length > 1 ? ticks[1]! - ticks[0]! : 1 };
}

function axes(
  w: number,
  h: number,
  xs: [number, number],
  ys: [number, number],
  sx: (v: number) => number,
  sy: (v: number) => number,
  frame: Frame,
): string {
  const parts: string[] = [];
  const yt = ticksWithStep(ys[0], ys[1]);
  for (const t of yt.ticks) {
    parts.push(
      `<line x1="${PAD.l}" x2="${w - PAD.r}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#1f2a36"/>`,
      `<text x="${PAD.l - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${tickText(t, yt.step)}</text>`,
    );
  }
  if (frame.xCategories) {
    frame.xCategories.forEach((c, i) => {
      parts.push(
        `<text x="${sx(i).toFixed(1)}" y="${h - PAD.b + 14}" text-anchor="middle">${escapeHtml(c.length > 12 ? `${c.slice(0, 11)}…` : c)}</text>`,
      );
    });
  } else {
    const xt = ticksWithStep(xs[0], xs[1]);
    for (const t of xt.ticks) {
      parts.push(
        `<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${PAD.t}" y2="${h - PAD.b}" stroke="#1f2a36"/>`,
        `<text x="${sx(t).toFixed(1)}" y="${h - PAD.b + 14}" text-anchor="middle">${tickText(t, xt.step)}</text>`,
      );
    }
  }
  parts.push(
    `<rect x="${PAD.l}" y="${PAD.t}" width="${w - PAD.l - PAD.r}" height="${h - PAD.t - PAD.b}" fill="none" stroke="#263241"/>`,
  );
  if (frame.xLabel)
    parts.push(`<text x="${(PAD.l + w - PAD.r) / 2}" y="${h - 6}" text-anchor="middle">${escapeHtml(frame.xLabel)}</text>`);
  if (frame.yLabel)
    parts.push(
      `<text transform="translate(12 ${(PAD.t + h - PAD.b) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(frame.yLabel)}</text>`,
    );
  return parts.join('');
}

/** A scatter plot (with an optional step line), responsive through its viewBox. */
export function scatterSvg(points: readonly XY[], frame: Frame = {}): string {
  const w = frame.width ?? 640;
  const h = frame.height ?? 280;
  const all = [...points, ...(frame.line ?? [])];
  const xs: [number, number] = frame.xCategories
    ? [-0.5, frame.xCategories.length - 0.5]
    : extent(all.map((p) => p.x));
  const ys = extent(all.map((p) => p.y));
  const sx = (v: number): number => PAD.l + ((v - xs[0]) / (xs[1] - xs[0])) * (w - PAD.l - PAD.r);
  const sy = (v: number): number => h - PAD.b - ((v - ys[0]) / (ys[1] - ys[0])) * (h - PAD.t - PAD.b);
  let line = '';
  if (frame.line && frame.line.length > 0) {
    let d = '';
    frame.line.forEach((p, i) => {
      if (i === 0) d += `M${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`;
      else d += `H${sx(p.x).toFixed(1)}V${sy(p.y).toFixed(1)}`;
    });
    line = `<path class="line" d="${d}" fill="none" stroke="#f7b84f" stroke-width="1.5"/>`;
  }
  const dots = points
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .map(
      (p) =>
        `<circle class="pt" cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${p.color ?? '#4f8ff7'}" fill-opacity="0.75">${p.title ? `<title>${escapeHtml(p.title)}</title>` : ''}</circle>`,
    )
    .join('');
  return `<svg class="plot" viewBox="0 0 ${w} ${h}" width="100%" preserveAspectRatio="xMidYMid meet" role="img">${axes(w, h, xs, ys, sx, sy, frame)}${line}${dots}</svg>`;
}

export interface BarGroup {
  label: string;
  values: readonly (number | null)[];
}

/** Grouped vertical bars (one colour per series), zero line included. */
export function groupedBarsSvg(
  groups: readonly BarGroup[],
  series: readonly { name: string; color: string }[],
  frame: Frame = {},
): string {
  const w = frame.width ?? 640;
  const h = frame.height ?? 260;
  const vals = groups.flatMap((g) => g.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const ys = extent([0, ...vals]);
  const xs: [number, number] = [-0.5, groups.length - 0.5];
  const sx = (v: number): number => PAD.l + ((v - xs[0]) / (xs[1] - xs[0])) * (w - PAD.l - PAD.r);
  const sy = (v: number): number => h - PAD.b - ((v - ys[0]) / (ys[1] - ys[0])) * (h - PAD.t - PAD.b);
  const slot = (w - PAD.l - PAD.r) / Math.max(1, groups.length);
  const bw = (slot * 0.7) / Math.max(1, series.length);
  const bars: string[] = [];
  groups.forEach((g, i) => {
    series.forEach((s, j) => {
      const v = g.values[j];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const x = sx(i) - (bw * series.length) / 2 + j * bw;
      const y0 = sy(0);
      const y1 = sy(v);
      bars.push(
        `<rect class="bar" x="${x.toFixed(1)}" y="${Math.min(y0, y1).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${Math.max(1, Math.abs(y1 - y0)).toFixed(1)}" fill="${s.color}"><title>${escapeHtml(`${g.label} ${s.name}: ${formatNumber(v, 3)}`)}</title></rect>`,
      );
    });
  });
  const legend = `<div class="legend">${series
    .map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`)
    .join('')}</div>`;
  const zero = `<line x1="${PAD.l}" x2="${w - PAD.r}" y1="${sy(0).toFixed(1)}" y2="${sy(0).toFixed(1)}" stroke="#8899aa"/>`;
  return `<svg class="plot" viewBox="0 0 ${w} ${h}" width="100%" preserveAspectRatio="xMidYMid meet" role="img">${axes(w, h, xs, ys, sx, sy, { ...frame, xCategories: groups.map((g) => g.label) })}${zero}${bars.join('')}</svg>${legend}`;
}
