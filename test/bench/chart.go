package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// writeChart draws the size sweep as an SVG: one panel per operation,
// throughput (MB/s, log scale) against object size (log scale), one line
// per path. Hand-rolled SVG, no dependencies.
func writeChart(file string, res *Results) error {
	return os.WriteFile(file, []byte(chartSVG(res)), 0o644)
}

var pathColors = map[string]string{"direct": "#1f77b4", "bare": "#7f7f7f", "s3xproxy": "#d62728"}

// Chart geometry: two panels (GET, PUT) side by side, a legend below.
const (
	panelW, panelH = 420.0, 300.0
	padL, padR     = 70.0, 20.0
	padT, padB     = 50.0, 60.0
)

// chartScale maps the sweep's sizes (x, log2) and throughputs (y, log10)
// onto a panel.
type chartScale struct {
	sizes  []int64
	lo, hi float64 // log10 of the y range, whole decades
	x0, x1 float64 // log2 of the smallest and largest size
}

// newChartScale finds the sizes and the throughput range of res.Sweep; ok
// is false when there is nothing to draw.
func newChartScale(res *Results) (sc chartScale, ok bool) {
	maxV, minV := 0.0, math.Inf(1)
	for _, s := range res.Sweep {
		if !slices.Contains(sc.sizes, s.Size) {
			sc.sizes = append(sc.sizes, s.Size)
		}
		for _, v := range s.MBps {
			if v > 0 {
				maxV = max(maxV, v)
				minV = min(minV, v)
			}
		}
	}
	if len(sc.sizes) == 0 || maxV == 0 {
		return sc, false
	}
	slices.Sort(sc.sizes)
	sc.lo, sc.hi = math.Floor(math.Log10(minV)), math.Ceil(math.Log10(maxV))
	if sc.hi == sc.lo {
		sc.hi++
	}
	sc.x0, sc.x1 = math.Log2(float64(sc.sizes[0])), math.Log2(float64(sc.sizes[len(sc.sizes)-1]))
	return sc, true
}

// x is log2(size), so the spacing between sizes is honest.
func (sc chartScale) x(i int) float64 {
	if sc.x1 == sc.x0 {
		return panelW / 2
	}
	return (math.Log2(float64(sc.sizes[i])) - sc.x0) / (sc.x1 - sc.x0) * panelW
}

func (sc chartScale) y(v float64) float64 {
	return panelH - (math.Log10(v)-sc.lo)/(sc.hi-sc.lo)*panelH
}

// chartSVG draws the throughput-against-size chart of res.Sweep.
func chartSVG(res *Results) string {
	ops := []string{"GET", "PUT"}
	width := float64(len(ops)) * (panelW + padL + padR)
	height := panelH + padT + padB + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := fmt.Sprintf("Throughput per path against object size (c=1, UNSIGNED-PAYLOAD) — %s, %d CPUs, %s",
		res.Started.UTC().Format("2006-01-02"), res.Machine.NProc, res.Machine.GoVersion)
	if res.Quick {
		title += " — quick run"
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="20" text-anchor="middle" font-size="14">%s</text>`+"\n", width/2, xmlEscape(title))
	sc, ok := newChartScale(res)
	if !ok {
		b.WriteString(`<text x="20" y="60">no sweep data</text></svg>` + "\n")
		return b.String()
	}
	for pi, op := range ops {
		writePanel(&b, res, sc, op, float64(pi)*(panelW+padL+padR)+padL)
	}
	writeLegend(&b)
	b.WriteString("</svg>\n")
	return b.String()
}

// writePanel draws one operation's panel at x offset ox: grid, axes and
// one line per path.
func writePanel(b *strings.Builder, res *Results, sc chartScale, op string, ox float64) {
	fmt.Fprintf(b, `<g transform="translate(%.0f,%.0f)">`+"\n", ox, padT)
	fmt.Fprintf(b, `<text x="%.0f" y="-10" text-anchor="middle" font-size="13">%s</text>`+"\n", panelW/2, op)
	fmt.Fprintf(b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="none" stroke="#ccc"/>`+"\n", panelW, panelH)
	for d := sc.lo; d <= sc.hi; d++ {
		y := sc.y(math.Pow(10, d))
		fmt.Fprintf(b, `<line x1="0" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`+"\n", y, panelW, y)
		fmt.Fprintf(b, `<text x="-6" y="%.1f" text-anchor="end" dominant-baseline="middle">%g</text>`+"\n", y, math.Pow(10, d))
	}
	for i, s := range sc.sizes {
		x := sc.x(i)
		fmt.Fprintf(b, `<line x1="%.1f" y1="0" x2="%.1f" y2="%.0f" stroke="#eee"/>`+"\n", x, x, panelH)
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x, panelH+16, sizeName(s))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle">object size</text>`+"\n", panelW/2, panelH+36)
	fmt.Fprintf(b, `<text transform="translate(-52,%.0f) rotate(-90)" text-anchor="middle">MB/s (log)</text>`+"\n", panelH/2)
	for _, k := range allPaths {
		name := k.String()
		var pts []string
		for i, s := range sc.sizes {
			for _, sw := range res.Sweep {
				if sw.Op == op && sw.Size == s && sw.MBps[name] > 0 {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", sc.x(i), sc.y(sw.MBps[name])))
				}
			}
		}
		if len(pts) == 0 {
			continue
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", pathColors[name], strings.Join(pts, " "))
		for _, p := range pts {
			x, y, _ := strings.Cut(p, ",")
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", x, y, pathColors[name])
		}
	}
	b.WriteString("</g>\n")
}

// writeLegend draws one colour key per path under the panels.
func writeLegend(b *strings.Builder) {
	ly := padT + panelH + 52
	for i, k := range allPaths {
		x := padL + float64(i)*230
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/>`+"\n", x, ly, x+24, ly, pathColors[k.String()])
		label := map[pathKind]string{pathDirect: "direct (session-signed)", pathBare: "bare ReverseProxy hop", pathProxy: "s3xproxy"}[k]
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" dominant-baseline="middle">%s</text>`+"\n", x+30, ly, label)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
