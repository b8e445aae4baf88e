// Small hand-written SVG charts: stacked vertical bars, horizontal bars and a donut. Each chart is an
// <svg role="img"> with an aria-label summarising it, <title> tooltips per mark, and a legend in HTML.
// The container gets data-has-data="true|false" so tests (and CSS) can tell an empty chart from a drawn one.

const NS = 'http://www.w3.org/2000/svg';

const svgEl = (name, attrs = {}, text) => {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
};

const fmt = (n) =>
  n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n * 10) / 10);

const niceMax = (v) => {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
};

function frame(container, { label, empty, hasData }) {
  container.replaceChildren();
  container.dataset.hasData = String(hasData);
  if (!hasData) {
    const p = document.createElement('p');
    p.className = 'chart-empty';
    p.textContent = empty ?? 'No data yet';
    container.append(p);
    return null;
  }
  const svg = svgEl('svg', {
    role: 'img',
    'aria-label': label,
    class: 'chart-svg',
    preserveAspectRatio: 'xMidYMid meet',
  });
  container.append(svg);
  return svg;
}

function legend(container, items) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  for (const it of items) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch ${it.cls}`;
    sw.setAttribute('aria-hidden', 'true');
    li.append(sw, document.createTextNode(it.value === undefined ? it.label : `${it.label}: ${it.value}`));
    ul.append(li);
  }
  container.append(ul);
}

/** Stacked vertical bars: labels along x, series stacked. series: [{ name, cls, values }]. */
export function stackedBars(container, { labels, series, label, empty, tickEvery = 1 }) {
  const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const svg = frame(container, {
    label: `${label}. ${series.map((s) => `${s.name} ${s.values.reduce((a, b) => a + b, 0)}`).join(', ')}`,
    empty,
    hasData: totals.some((t) => t > 0),
  });
  if (!svg) return;
  const W = 600,
    H = 240,
    L = 46,
    B = 28,
    T = 8,
    R = 8;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const plotW = W - L - R,
    plotH = H - T - B;
  for (let i = 0; i <= 4; i++) {
    const y = T + plotH - (plotH * i) / 4;
    svg.append(svgEl('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'grid' }));
    svg.append(svgEl('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, fmt((max * i) / 4)));
  }
  const step = plotW / labels.length;
  const bw = Math.max(2, step * 0.7);
  labels.forEach((lab, i) => {
    let y = T + plotH;
    for (const s of series) {
      const v = s.values[i] ?? 0;
      if (!v) continue;
      const h = (v / max) * plotH;
      y -= h;
      const rect = svgEl('rect', {
        x: L + i * step + (step - bw) / 2,
        y,
        width: bw,
        height: Math.max(h, 0.5),
        class: `mark ${s.cls}`,
      });
      rect.append(svgEl('title', {}, `${lab} · ${s.name}: ${v}`));
      svg.append(rect);
    }
    if (i % tickEvery === 0)
      svg.append(svgEl('text', { x: L + i * step + step / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, lab));
  });
  legend(
    container,
    series.map((s) => ({ label: s.name, cls: s.cls, value: s.values.reduce((a, b) => a + b, 0) })),
  );
}

/** Horizontal bars: items [{ label, value, cls? }]. */
export function horizontalBars(container, { items, label, empty, format = fmt }) {
  const max = Math.max(0, ...items.map((i) => i.value));
  const svg = frame(container, {
    label: `${label}. ${items.map((i) => `${i.label} ${format(i.value)}`).join(', ')}`,
    empty,
    hasData: max > 0,
  });
  if (!svg) return;
  const rowH = 32,
    W = 600,
    labelW = 210,
    R = 60;
  const H = items.length * rowH + 4;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  items.forEach((it, i) => {
    const y = i * rowH + 4;
    const w = max ? ((W - labelW - R) * it.value) / max : 0;
    const name = it.label.length > 28 ? `${it.label.slice(0, 27)}…` : it.label;
    svg.append(svgEl('text', { x: labelW - 8, y: y + 19, 'text-anchor': 'end', class: 'label' }, name));
    const rect = svgEl('rect', {
      x: labelW,
      y: y + 2,
      width: Math.max(w, 1),
      height: rowH - 8,
      rx: 3,
      class: `mark ${it.cls ?? 's-primary'}`,
    });
    rect.append(svgEl('title', {}, `${it.label}: ${format(it.value)}`));
    svg.append(rect);
    svg.append(svgEl('text', { x: labelW + w + 6, y: y + 19, class: 'value' }, format(it.value)));
  });
}

/** A donut: items [{ label, value, cls }], with a big figure in the middle. */
export function donut(container, { items, label, center, centerLabel, empty }) {
  const total = items.reduce((a, i) => a + i.value, 0);
  const svg = frame(container, {
    label: `${label}. ${center ? `${center} ${centerLabel ?? ''}. ` : ''}${items.map((i) => `${i.label} ${i.value}`).join(', ')}`,
    empty,
    hasData: total > 0,
  });
  if (!svg) return;
  svg.setAttribute('viewBox', '0 0 200 200');
  svg.classList.add('donut');
  const r = 70,
    c = 2 * Math.PI * r;
  let offset = 0;
  svg.append(svgEl('circle', { cx: 100, cy: 100, r, class: 'donut-track' }));
  for (const it of items) {
    if (!it.value) continue;
    const len = (it.value / total) * c;
    const arc = svgEl('circle', {
      cx: 100,
      cy: 100,
      r,
      class: `donut-arc ${it.cls}`,
      'stroke-dasharray': `${len} ${c - len}`,
      'stroke-dashoffset': -offset,
      transform: 'rotate(-90 100 100)',
    });
    arc.append(svgEl('title', {}, `${it.label}: ${it.value} (${Math.round((it.value / total) * 100)}%)`));
    svg.append(arc);
    offset += len;
  }
  if (center) {
    svg.append(svgEl('text', { x: 100, y: 102, 'text-anchor': 'middle', class: 'donut-center' }, center));
    if (centerLabel)
      svg.append(svgEl('text', { x: 100, y: 124, 'text-anchor': 'middle', class: 'donut-sub' }, centerLabel));
  }
  legend(
    container,
    items.map((i) => ({ label: i.label, cls: i.cls, value: i.value })),
  );
}
