/*
 * html.c - the report as one offline page: data as JSON, drawn by a small
 * script in the page itself.
 *
 * Everything the page shows comes from the data object written here, and
 * that from the same queries as the text report (model_summary, the view at
 * the chosen time, flame_write's folded stacks). The JSON is written with
 * json.c into memory, then '<' is written as \u003c so no string (a
 * function's name is free text) can close the script element.
 */
#include "html.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "complete.h"
#include "flame.h"
#include "json.h"
#include "model.h"
#include "recfile.h"
#include "report.h"

/* the chart keeps at most this many points (the largest heap of each run
 * of points), enough for any screen */
#define HTML_CHART_POINTS 2000

static const char html_head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n"
    "<title>heapline report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}\n"
    "h1{font-size:1.3em;margin:0 0 .5em}h2{font-size:1.1em;margin:1.2em 0 .4em}\n"
    "table{border-collapse:collapse}th{text-align:left;font-weight:normal;color:#555;"
    "padding:1px 1.5em 1px 0}td{font-family:monospace;padding:1px 0}\n"
    "#chart{width:100%;height:240px;display:block;border:1px solid #ddd;overflow:visible}\n"
    ".tip{font-family:monospace;min-height:1.4em;color:#333}\n"
    "#flame{position:relative;width:100%;overflow:hidden;border:1px solid #ddd}\n"
    ".fr{position:absolute;height:17px;line-height:17px;font:12px monospace;overflow:hidden;"
    "white-space:nowrap;text-overflow:ellipsis;padding:0 3px;box-sizing:border-box;"
    "border-right:1px solid #fff;border-bottom:1px solid #fff;cursor:pointer}\n"
    ".fr:hover{filter:brightness(.85)}.fr.dim{opacity:.35}.fr.hit{outline:2px solid #06c}\n"
    "button,input{font:inherit}.warn{color:#a00;font-weight:bold}.note{color:#555}\n"
    "</style></head>\n<body data-rendered=\"0\">\n"
    "<h1>heapline report: <span id=\"exe\"></span></h1>\n"
    "<p id=\"verdict\" class=\"warn\" hidden></p>\n"
    "<p id=\"sampled\" class=\"note\" hidden></p>\n"
    "<table id=\"summary\"></table>\n"
    "<h2>Memory over time</h2>\n"
    "<svg id=\"chart\"></svg>\n"
    "<div class=\"tip\" id=\"chart-tip\">move over the chart for the heap at a time</div>\n"
    "<h2>Live bytes at <span id=\"flame-at\"></span>: <span id=\"flame-total\"></span></h2>\n"
    "<div>click a frame to zoom in, <button id=\"reset\">reset zoom</button> "
    "<input id=\"search\" placeholder=\"highlight function\" size=\"24\"></div>\n"
    "<div id=\"flame\"></div>\n"
    "<div class=\"tip\" id=\"flame-tip\">move over a frame for its figures</div>\n";

/* The page's script: reads script#data, fills the summary, draws the chart
 * (SVG: the heap, its peak, the markers; rss in the hover tip) and the flame
 * graph (positioned divs, root on top), and marks the
 * body data-rendered="1" when done. */
static const char html_script[] =
    "<script>\n"
    "'use strict';\n"
    "const D = JSON.parse(document.getElementById('data').textContent);\n"
    "const $ = (id) => document.getElementById(id);\n"
    "function fmt(b) {\n"
    "  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0, v = b;\n"
    "  while (Math.abs(v) >= 1024 && i < 4) { v /= 1024; i++; }\n"
    "  return i ? v.toFixed(2) + ' ' + u[i] : v + ' B';\n"
    "}\n"
    "function put(el, value, text) { el.dataset.value = value; el.textContent = text; }\n"
    "$('exe').textContent = (D.exe || '(unknown program)') + ' (pid ' + D.pid + ')';\n"
    "document.title = 'heapline: ' + (D.exe || 'report');\n"
    "const rows = [\n"
    "  ['duration', 'duration', D.duration, D.duration.toFixed(3) + ' s'],\n"
    "  ['peak heap', 'peak_bytes', D.peak_bytes,\n"
    "   fmt(D.peak_bytes) + ' (' + D.peak_bytes + ' bytes) at ' + D.peak_time.toFixed(3) + ' s'],\n"
    "  ['peak rss', 'peak_rss', D.peak_rss, fmt(D.peak_rss)],\n"
    "  ['allocations', 'allocations', D.allocations, String(D.allocations)],\n"
    "  ['frees', 'frees', D.frees, String(D.frees)],\n"
    "  ['allocated', 'bytes_allocated', D.bytes_allocated, fmt(D.bytes_allocated)],\n"
    "  D.leaks_known ? ['leaked', 'leaked_bytes', D.leaked_bytes,\n"
    "   fmt(D.leaked_bytes) + ' in ' + D.leaked_blocks + ' blocks (live at the end)']\n"
    "   : ['leaked', 'leaked_bytes', '', 'not known: ' + D.leaks_why],\n"
    "];\n"
    "/* before any figure: a recording that is not the whole run, a sampled one */\n"
    "if (!D.complete) {\n"
    "  $('verdict').hidden = false;\n"
    "  $('verdict').textContent = 'INCOMPLETE recording: ' + D.incomplete;\n"
    "}\n"
    "const est = D.sample_rate ? '~' : '';\n"
    "if (D.sample_rate) {\n"
    "  $('sampled').hidden = false;\n"
    "  $('sampled').textContent = 'Sampled: one sample every ' + fmt(D.sample_rate) +\n"
    "    ' on average: the flame graph\\'s figures are estimates (~); the totals are exact' +\n"
    "    ' (heap bytes: usable sizes).';\n"
    "}\n"
    "for (const [label, id, value, text] of rows) {\n"
    "  const tr = document.createElement('tr'), th = document.createElement('th'),\n"
    "        td = document.createElement('td');\n"
    "  th.textContent = label; td.id = id; put(td, value, text);\n"
    "  tr.append(th, td); $('summary').append(tr);\n"
    "}\n"
    "\n"
    "/* the chart: heap (filled), the peak, the markers */\n"
    "function chart() {\n"
    "  const svg = $('chart'), H = 240, top = 14, ns = 'http://www.w3.org/2000/svg';\n"
    "  const W = Math.max(svg.getBoundingClientRect().width, 200);\n"
    "  svg.textContent = '';\n"
    "  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);\n"
    "  const pts = D.timeline, t1 = Math.max(D.duration, 1e-9);\n"
    "  let ymax = Math.max(D.peak_bytes, 1);\n"
    "  /* rss is often many times the heap: it is in the tip, not on the scale */\n"
    "  const rss = pts.some((p) => p[2] > 0);\n"
    "  const x = (t) => (t / t1) * W, y = (v) => H - (v / ymax) * (H - top);\n"
    "  const el = (name, attrs, text) => {\n"
    "    const e = document.createElementNS(ns, name);\n"
    "    for (const k in attrs) e.setAttribute(k, attrs[k]);\n"
    "    if (text) e.textContent = text;\n"
    "    svg.append(e); return e;\n"
    "  };\n"
    "  for (const p of pts) ymax = Math.max(ymax, p[1]);\n"
    "  let d = 'M0,' + H;\n"
    "  for (const p of pts) d += 'L' + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);\n"
    "  if (pts.length) d += 'L' + x(pts[pts.length - 1][0]).toFixed(1) + ',' + H;\n"
    "  el('path', {d: d + 'Z', fill: '#f4a261', 'fill-opacity': '.55', stroke: '#e76f51',\n"
    "              'vector-effect': 'non-scaling-stroke', id: 'heap-line',\n"
    "              'data-points': pts.length});\n"

    "  let lastLabel = -1e9;\n"
    "  for (const m of D.markers) {\n"
    "    const g = el('line', {x1: x(m.time), x2: x(m.time), y1: 0, y2: H, stroke: '#264653',\n"
    "                          'stroke-dasharray': '2 3', class: 'marker',\n"
    "                          'vector-effect': 'non-scaling-stroke'});\n"
    "    g.append(Object.assign(document.createElementNS(ns, 'title'),\n"
    "                           {textContent: m.label + ' at ' + m.time.toFixed(3) + ' s'}));\n"
    "    if (x(m.time) < lastLabel) continue; /* it would overlap: hover the line */\n"
    "    lastLabel = x(m.time) + 7 * m.label.length + 8;\n"
    "    el('text', {x: x(m.time) + 3, y: 11, 'font-size': 11, fill: '#264653'}, m.label);\n"
    "  }\n"
    "  el('circle', {cx: x(D.peak_time), cy: y(D.peak_bytes), r: 4, fill: '#d62828', id: 'peak',\n"
    "                'data-value': D.peak_bytes});\n"
    "  el('text', {x: Math.min(x(D.peak_time) + 6, W - 160), y: y(D.peak_bytes) + 14,\n"
    "              'font-size': 11, fill: '#d62828'}, 'peak ' + fmt(D.peak_bytes));\n"
    "  svg.onmousemove = (ev) => {\n"
    "    const box = svg.getBoundingClientRect(), t = ((ev.clientX - box.left) / box.width) * t1;\n"
    "    let lo = 0, hi = pts.length - 1;\n"
    "    if (hi < 0) return;\n"
    "    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (pts[mid][0] <= t) lo = mid; else hi "
    "= mid - 1; }\n"
    "    const p = pts[lo];\n"
    "    $('chart-tip').textContent = t.toFixed(3) + ' s: heap ' + fmt(p[1]) +\n"
    "      (rss ? ', rss ' + fmt(p[2]) : '');\n"
    "  };\n"
    "  svg.dataset.markers = D.markers.length;\n"
    "}\n"
    "chart();\n"
    "\n"
    "/* the flame graph: a tree from the folded stacks, drawn root on top */\n"
    "const root = {name: 'all', value: 0, kids: new Map(), parent: null, depth: 0};\n"
    "for (const line of D.folded) {\n"
    "  const sp = line.lastIndexOf(' '), n = Number(line.slice(sp + 1));\n"
    "  let node = root; root.value += n;\n"
    "  for (const f of line.slice(0, sp).split(';')) {\n"
    "    let k = node.kids.get(f);\n"
    "    if (!k) { k = {name: f, value: 0, kids: new Map(), parent: node, depth: node.depth + 1};\n"
    "              node.kids.set(f, k); }\n"
    "    k.value += n; node = k;\n"
    "  }\n"
    "}\n"
    "put($('flame-total'), root.value, est + fmt(root.value) + ' (' + est + root.value + ' "
    "bytes)');\n"
    "$('flame-at').textContent = D.at === 'time' ? D.time.toFixed(3) + ' s' :\n"
    "  D.at === 'peak' ? 'the peak (' + D.time.toFixed(3) + ' s)' : 'the end';\n"
    "function colour(name) {\n"
    "  let h = 0;\n"
    "  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;\n"
    "  return 'hsl(' + (h % 50 + 5) + ',' + (h % 30 + 60) + '%,' + (h % 15 + 62) + '%)';\n"
    "}\n"
    "let zoom = root;\n"
    "function draw() {\n"
    "  const box = $('flame'), width = box.clientWidth || 1000, rowH = 18;\n"
    "  const q = $('search').value.toLowerCase();\n"
    "  box.textContent = '';\n"
    "  let depth = 0, drawn = 0;\n"
    "  const add = (n, left, w, dim) => {\n"
    "    const e = document.createElement('div');\n"
    "    e.className = 'fr' + (dim ? ' dim' : '') + (q && n.name.toLowerCase().includes(q) ? ' "
    "hit' : '');\n"
    "    e.style.left = left + 'px'; e.style.width = w + 'px'; e.style.top = n.depth * rowH + "
    "'px';\n"
    "    e.style.background = n === root ? '#ddd' : colour(n.name);\n"
    "    e.textContent = n.name; e.dataset.value = n.value;\n"
    "    const pct = root.value ? (100 * n.value / root.value).toFixed(2) : '0';\n"
    "    e.title = n.name + '\\n' + est + fmt(n.value) + ' (' + est + n.value + ' bytes, ' + pct "
    "+\n"
    "      '%)';\n"
    "    e.onmouseenter = () => { $('flame-tip').textContent = n.name + ': ' + est + fmt(n.value) "
    "+\n"
    "      ' (' + est + n.value + ' bytes, ' + pct + '% of all)'; };\n"
    "    e.onclick = () => { zoom = n; draw(); };\n"
    "    box.append(e); drawn++; depth = Math.max(depth, n.depth);\n"
    "  };\n"
    "  for (let a = zoom; a; a = a.parent) add(a, 0, width, a !== zoom);\n"
    "  const walk = (n, left, w) => {\n"
    "    let x = left;\n"
    "    const kids = [...n.kids.values()].sort((a, b) => a.name < b.name ? -1 : 1);\n"
    "    for (const k of kids) {\n"
    "      const kw = n.value ? (w * k.value) / n.value : 0;\n"
    "      if (kw >= 0.5) { add(k, x, kw, false); walk(k, x, kw); }\n"
    "      x += kw;\n"
    "    }\n"
    "  };\n"
    "  walk(zoom, 0, width);\n"
    "  box.style.height = (depth + 1) * rowH + 'px';\n"
    "  box.dataset.frames = drawn;\n"
    "}\n"
    "$('reset').onclick = () => { zoom = root; draw(); };\n"
    "$('search').oninput = draw;\n"
    "window.addEventListener('resize', () => { chart(); draw(); });\n"
    "draw();\n"
    "document.body.dataset.rendered = '1';\n"
    "</script>\n</body></html>\n";

/* Writes the JSON text of buf[0..n) with every '<' as \u003c. */
static void put_json_safe(FILE *out, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '<')
            fputs("\\u003c", out);
        else
            fputc(buf[i], out);
    }
}

static void json_timeline(struct json *j, const struct model *m)
{
    uint32_t n, step;
    const struct model_point *p = model_timeline(m, &n);

    step = n > HTML_CHART_POINTS ? (n + HTML_CHART_POINTS - 1) / HTML_CHART_POINTS : 1;
    json_array_begin(j, "timeline");
    for (uint32_t i = 0; i < n; i += step) {
        uint32_t end = i + step < n ? i + step : n;
        uint64_t heap, rss;

        /* a point later than the next one (a first event bucket closed by a
         * late tick has been seen) would fold the line back: the chart
         * leaves it out */
        if (i + 1 < n && p[i].time > p[i + 1].time)
            continue;

        model_range_max(m, i, end, &heap, &rss);
        json_array_begin(j, NULL);
        json_f64(j, NULL, (double)p[i].time / 1e9);
        json_u64(j, NULL, heap);
        json_u64(j, NULL, rss);
        json_array_end(j);
    }
    json_array_end(j);
}

/* The folded stacks of flame.h, one string each. Returns 0 or -1. */
static int json_folded(struct json *j, const struct model *m, const struct report_options *o,
                       char *err, size_t errsz)
{
    struct report_options fo = *o;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int rc;

    if (!mem) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    fo.by = FLAME_BY_LIVE;
    rc = flame_write(m, &fo, mem, err, errsz);
    if (fclose(mem) != 0 && rc == 0) {
        snprintf(err, errsz, "out of memory");
        rc = -1;
    }
    if (rc == 0) {
        json_array_begin(j, "folded");
        for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl)
                *nl = 0;
            json_str(j, NULL, line);
        }
        json_array_end(j);
    }
    free(buf);
    return rc;
}

int html_write(const struct model *m, const struct report_options *o,
               const struct complete_input *in, FILE *out, char *err, size_t errsz)
{
    const struct model_summary *sum = model_summary(m);
    struct report_options at = *o;
    struct model_query q;
    struct model_view v = {0};
    uint32_t nm;
    const struct model_marker *mk = model_markers(m, &nm);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem;
    struct complete c;
    struct json j;
    int rc = -1;

    if (!o->at_text) /* the page's flame graph is at the peak unless --at says */
        at.at = REPORT_AT_PEAK;
    if (report_query(m, &at, &q, err, errsz) != 0)
        return -1;
    if (model_view_at(m, &q, &v) != 0 || !(mem = open_memstream(&buf, &len))) {
        model_view_free(&v);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    complete_judge(m, in, &c);
    json_init(&j, mem, 0);
    json_object_begin(&j, NULL);
    json_str(&j, "exe", sum->exe);
    json_u64(&j, "pid", sum->pid);
    json_f64(&j, "duration", (double)sum->time_last / 1e9);
    json_u64(&j, "peak_bytes", sum->peak_bytes);
    json_f64(&j, "peak_time", (double)sum->peak_time / 1e9);
    json_u64(&j, "peak_rss", sum->peak_rss);
    json_u64(&j, "allocations", sum->allocations);
    json_u64(&j, "frees", sum->frees);
    json_u64(&j, "bytes_allocated", sum->bytes_allocated);
    json_u64(&j, "leaked_bytes", sum->leaked_bytes);
    json_u64(&j, "leaked_blocks", sum->leaked_blocks);
    json_bool(&j, "complete", c.complete);
    json_str(&j, "incomplete", c.complete ? NULL : c.message);
    json_bool(&j, "leaks_known", c.leaks_known);
    json_str(&j, "leaks_why", c.leaks_known ? NULL : c.leaks_why);
    json_u64(&j, "sample_rate", sum->sample_rate);
    json_str(&j, "at", at.at == REPORT_AT_PEAK ? "peak" : at.at == REPORT_AT_END ? "end" : "time");
    json_f64(&j, "time", (double)v.time / 1e9);
    json_u64(&j, "live_bytes", v.totals.heap_bytes);
    json_timeline(&j, m);
    json_array_begin(&j, "markers");
    for (uint32_t i = 0; i < nm; i++) {
        json_object_begin(&j, NULL);
        json_f64(&j, "time", (double)mk[i].time / 1e9);
        json_str(&j, "label", mk[i].label);
        json_object_end(&j);
    }
    json_array_end(&j);
    if (json_folded(&j, m, &at, err, errsz) != 0) {
        fclose(mem);
        goto out;
    }
    json_object_end(&j);
    if (fclose(mem) != 0) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    fputs(html_head, out);
    fputs("<script type=\"application/json\" id=\"data\">", out);
    put_json_safe(out, buf, len);
    fputs("</script>\n", out);
    fputs(html_script, out);
    rc = 0;
out:
    free(buf);
    model_view_free(&v);
    return rc;
}

int html_write_file(const struct model *m, const struct report_options *o,
                    const struct complete_input *in, const char *path, FILE *errf)
{
    /* an existing file is overwritten only when it is a page of ours (its
     * head, up to the title): never through a link, never someone's file */
    const char *title_end = strstr(html_head, "</title>\n");
    const struct recfile_own page = {
        .magic = html_head,
        .magic_len = (size_t)(title_end - html_head) + strlen("</title>\n"),
        .link = "is a symbolic link (report pages are not written through links; name the target)",
        .special = "not a regular file (a device, FIFO or socket): refusing to write a page there",
        .not_ours = "exists and is not a heapline report page: not overwritten (remove it, or "
                    "choose another name)",
    };
    char err[1024];
    const char *why = NULL;
    int rc = 0, fd = recfile_create_own(path, 0644, &page, &why);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!f) {
        fprintf(errf, "heapline: %s: %s\n", path, fd < 0 ? why : strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (html_write(m, o, in, f, err, sizeof(err)) != 0) {
        fprintf(errf, "heapline: %s\n", err);
        rc = 1;
    }
    if (fclose(f) != 0 && rc == 0) {
        fprintf(errf, "heapline: %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    return rc;
}
