package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPatternBody(t *testing.T) {
	for _, size := range []int64{0, 1, 4096, 1<<20 + 17, 3 << 20} {
		var viaRead bytes.Buffer
		if _, err := io.Copy(&viaRead, struct{ io.Reader }{newPatternBody(size)}); err != nil {
			t.Fatal(err)
		}
		var viaWriteTo bytes.Buffer
		if _, err := newPatternBody(size).WriteTo(&viaWriteTo); err != nil {
			t.Fatal(err)
		}
		if int64(viaRead.Len()) != size || !bytes.Equal(viaRead.Bytes(), viaWriteTo.Bytes()) {
			t.Fatalf("size %d: Read gave %d bytes, WriteTo %d, equal %v", size, viaRead.Len(), viaWriteTo.Len(),
				bytes.Equal(viaRead.Bytes(), viaWriteTo.Bytes()))
		}
		sum := sha256.Sum256(viaRead.Bytes())
		if got, want := patternSHA256(size), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("patternSHA256(%d) = %s, want %s", size, got, want)
		}
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkSignSession-2   	  512345	      2345 ns/op	     512 B/op	       7 allocs/op
BenchmarkSignIAM   	  1000	      1500.5 ns/op
PASS`
	ms := parseBench(out, "./signing/")
	if len(ms) != 2 {
		t.Fatalf("got %d benchmarks, want 2: %+v", len(ms), ms)
	}
	if m := ms[0]; m.Name != "BenchmarkSignSession" || m.NsPerOp != 2345 || m.BytesPerOp != 512 || m.AllocsPerOp != 7 {
		t.Errorf("got %+v", m)
	}
	if m := ms[1]; m.Name != "BenchmarkSignIAM" || m.NsPerOp != 1500.5 {
		t.Errorf("got %+v", m)
	}
}

func TestParseCreateSessions(t *testing.T) {
	tests := []struct {
		name      string
		stats     map[string]any
		wantTotal int
		wantKeys  int
		wantErr   bool
	}{
		{"emulator shape", map[string]any{
			"requests":        map[string]any{"CreateSession": 9.0, "GetObject": 100.0},
			"create_sessions": map[string]any{"b1/ReadWrite": 2.0, "b1/ReadOnly": 3.0, "b2/ReadWrite": 4.0},
		}, 9, 3, false},
		{"nested", map[string]any{"CreateSessions": map[string]any{"b1": map[string]any{"ReadOnly": 1.0}}}, 1, 1, false},
		{"missing", map[string]any{"requests": map[string]any{}}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, keys, err := parseCreateSessions(tt.stats)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if total != tt.wantTotal || len(keys) != tt.wantKeys {
				t.Errorf("got total %d keys %v, want %d and %d keys", total, keys, tt.wantTotal, tt.wantKeys)
			}
		})
	}
}

func TestWindowP99(t *testing.T) {
	var lat, done []int64
	for i := 0; i < 300; i++ {
		lat = append(lat, int64(i%100+1)*1000) // 1..100 µs in every window
		done = append(done, int64(i)*int64(10*time.Millisecond))
	}
	w := windowP99(lat, done, time.Second, 3*time.Second)
	if len(w) != 3 {
		t.Fatalf("got %d windows, want 3", len(w))
	}
	for i, v := range w {
		if v != 99 {
			t.Errorf("window %d p99 = %v µs, want 99", i, v)
		}
	}
}

func TestWriteMarkdownKeepsHandWrittenText(t *testing.T) {
	file := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	before := "# title\n\nintro\n\n" + mdBegin + "\nold\n" + mdEnd + "\n\n## Changes\n- kept\n"
	if err := os.WriteFile(file, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	res := &Results{Started: time.Now(), Finished: time.Now(), Targets: []Target{{Name: "x", Want: "y", Got: "z", Status: "PASS"}}}
	if err := writeMarkdown(file, "chart.svg", res); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	s := string(b)
	for _, want := range []string{"# title\n\nintro\n", "## Changes\n- kept\n", "| PASS | x | y | z |", "chart.svg"} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\nold\n") {
		t.Errorf("old section kept:\n%s", s)
	}
}

func TestChartIsWellFormedSVG(t *testing.T) {
	res := &Results{Sweep: []Sweep{
		{Op: "GET", Size: 4096, MBps: map[string]float64{"direct": 30, "bare": 12, "s3xproxy": 11}},
		{Op: "GET", Size: 1 << 20, MBps: map[string]float64{"direct": 900, "bare": 500, "s3xproxy": 480}},
		{Op: "PUT", Size: 4096, MBps: map[string]float64{"direct": 25, "bare": 10, "s3xproxy": 9}},
		{Op: "PUT", Size: 1 << 20, MBps: map[string]float64{"direct": 800, "bare": 450, "s3xproxy": 430}},
	}}
	svg := chartSVG(res)
	d := xml.NewDecoder(strings.NewReader(svg))
	lines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 6 {
		t.Errorf("got %d polylines, want 6 (3 paths × 2 ops)", lines)
	}
}

func TestEvaluate(t *testing.T) {
	res := &Results{
		Large: []Large{{Op: "PUT", Payload: payloadName(false), Conc: 8, Size: 1 << 30, RatioBare: 0.96,
			Paths: []PathFigures{{Path: "direct", Ops: 8}, {Path: "bare", Ops: 8}, {Path: "s3xproxy", Ops: 8, HopPeakRSS: 70 << 20}}}},
		Small: []Small{{Op: "GET", Conc: 1, AddedP50: 61, AddedP99: 100,
			Paths: []PathFigures{{Path: "bare", Ops: 1}, {Path: "s3xproxy", Ops: 1}}}},
		Micro: []Micro{{Name: "BenchmarkSignSession", NsPerOp: 2000, AllocsPerOp: 11}},
	}
	got := map[string]string{}
	for _, tg := range evaluate(res) {
		got[tg.Name] = tg.Status
	}
	want := map[string]string{
		"large PUT 1GiB UNSIGNED-PAYLOAD c=8 MB/s vs bare":      "PASS",
		"peak RSS, 8 × 1GiB concurrent PUTs (UNSIGNED-PAYLOAD)": "MISS",
		"small GET c=1 added p50":                               "MISS",
		"small GET c=1 added p99":                               "PASS",
		"BenchmarkSignSession ns/op":                            "PASS",
		"BenchmarkSignSession allocs/op":                        "MISS",
	}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s: got %q, want %q (all: %v)", name, got[name], st, got)
		}
	}
}

// TestEvaluateMedianOfRounds: a cell passes on the median of its per-round
// figures, not on the ratio of its totals, and one slow round does not
// decide it.
func TestEvaluateMedianOfRounds(t *testing.T) {
	paths := func(px, bare []float64, pxP50, bareP50 []float64) []PathFigures {
		return []PathFigures{{Path: "bare", Ops: 1, Rounds: bare, RoundP50us: bareP50},
			{Path: "s3xproxy", Ops: 1, Rounds: px, RoundP50us: pxP50}}
	}
	tests := []struct {
		name string
		cell Small
		want map[string]string
	}{
		{"one slow round", Small{Op: "GET", Conc: 1, AddedP50: 75,
			Paths: paths(nil, nil, []float64{90, 150, 95}, []float64{40, 40, 40})},
			map[string]string{"small GET c=1 added p50": "PASS"}},
		{"median over the line", Small{Op: "GET", Conc: 1, AddedP50: 40,
			Paths: paths(nil, nil, []float64{110, 105, 70}, []float64{40, 40, 40})},
			map[string]string{"small GET c=1 added p50": "MISS"}},
		{"c=64 median ratio", Small{Op: "PUT", Conc: 64, RatioBare: 0.80,
			Paths: paths([]float64{90, 50, 88}, []float64{100, 100, 100}, nil, nil)},
			map[string]string{"small PUT c=64 req/s vs bare": "PASS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cell
			c.RoundRatios = roundSpread(c.Paths, func(px, bare float64) float64 { return px / bare },
				func(f PathFigures) []float64 { return f.Rounds })
			c.RoundAddedP50 = roundSpread(c.Paths, func(px, bare float64) float64 { return px - bare },
				func(f PathFigures) []float64 { return f.RoundP50us })
			got := map[string]Target{}
			for _, tg := range evaluate(&Results{Small: []Small{c}}) {
				got[tg.Name] = tg
			}
			for name, st := range tt.want {
				if got[name].Status != st {
					t.Errorf("%s: got %q (%s), want %q", name, got[name].Status, got[name].Got, st)
				}
			}
		})
	}
	if s := spreadOf([]float64{3, 1, 2, 10}); s.Median != 2.5 || s.Min != 1 || s.Max != 10 {
		t.Errorf("spreadOf = %+v, want median 2.5, min 1, max 10", s)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{{"4KiB", 4096}, {"64MiB", 64 << 20}, {"1GiB", 1 << 30}, {"1000", 1000}, {"2MB", 2e6}}
	for _, tt := range tests {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize(lots) succeeded")
	}
}
