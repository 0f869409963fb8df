// Chart.js, imported only by the dashboard (its own chunk), with the colours of the current theme.
import type { Chart as ChartType } from "chart.js";

export type Chart = ChartType;

export async function chartLib() {
  const m = await import("chart.js");
  m.Chart.register(m.BarController, m.BarElement, m.LineController, m.LineElement, m.PointElement, m.CategoryScale, m.LinearScale, m.Tooltip, m.Legend);
  return m.Chart;
}

export function themeColours(): { accent: string; ok: string; text: string; muted: string; border: string } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return { accent: v("--accent", "#3b4bd8"), ok: v("--ok", "#1e7a34"), text: v("--text", "#1b1b1f"), muted: v("--muted", "#5c5c66"), border: v("--border", "#d6d6de") };
}
