package compat

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestMarkUnmarkETag(t *testing.T) {
	tests := []struct{ in, marked string }{
		{`"0123456789abcdef0123456789abcdef"`, `"0123456789abcdef0123456789abcdef-s3x"`},
		{`"abc-3"`, `"abc-3-s3x"`},
		{`"abc-s3x"`, `"abc-s3x-s3x"`},
		{`W/"abc"`, `W/"abc-s3x"`},
		{`abc`, `abc-s3x`},
		{`""`, `"-s3x"`},
		{``, ``},
	}
	for _, tt := range tests {
		if got := MarkETag(tt.in); got != tt.marked {
			t.Errorf("MarkETag(%q) = %q, want %q", tt.in, got, tt.marked)
		}
		if got, ok := UnmarkETag(MarkETag(tt.in)); got != tt.in || (tt.in != "" && !ok) {
			t.Errorf("UnmarkETag(MarkETag(%q)) = %q, %v", tt.in, got, ok)
		}
	}
	for _, v := range []string{`"0123456789abcdef0123456789abcdef"`, `"abc-1"`, `*`, `"abc-s3x`, `-s3`, `"`} {
		if got, ok := UnmarkETag(v); ok || got != v {
			t.Errorf("UnmarkETag(%q) = %q, %v; want it unchanged", v, got, ok)
		}
	}
}

// TestETagMarker feeds documents through the marker in pieces of every
// size, so every tag and entity is split at every byte.
func TestETagMarker(t *testing.T) {
	long := strings.Repeat("x", maxETagContent+10)
	tests := []struct{ name, in, want string }{
		{"listing, &quot;",
			`<ListBucketResult><Contents><Key>a</Key><ETag>&quot;e1&quot;</ETag></Contents><Contents><ETag>&quot;e2-3&quot;</ETag></Contents></ListBucketResult>`,
			`<ListBucketResult><Contents><Key>a</Key><ETag>&quot;e1-s3x&quot;</ETag></Contents><Contents><ETag>&quot;e2-3-s3x&quot;</ETag></Contents></ListBucketResult>`},
		{"Go encoder's &#34;", `<ETag>&#34;e&#34;</ETag>`, `<ETag>&#34;e-s3x&#34;</ETag>`},
		{"literal quotes", `<CopyObjectResult><ETag>"e"</ETag></CopyObjectResult>`, `<CopyObjectResult><ETag>"e-s3x"</ETag></CopyObjectResult>`},
		{"unquoted (GetObjectAttributes)", `<ETag>e</ETag>`, `<ETag>e-s3x</ETag>`},
		{"empty element kept", `<ETag></ETag><ETag/>`, `<ETag></ETag><ETag/>`},
		{"no ETag, near misses", `<ETa><ETags>x</ETags><Key>&lt;ETag&gt;</Key>`, `<ETa><ETags>x</ETags><Key>&lt;ETag&gt;</Key>`},
		{"oversized element passed on", `<ETag>` + long + `</ETag><ETag>"e"</ETag>`, `<ETag>` + long + `</ETag><ETag>"e-s3x"</ETag>`},
		{"cut short inside an element", `<a><ETag>"e"`, `<a><ETag>"e"`},
		{"cut short inside a tag", `<a><ETa`, `<a><ETa`},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 2, 3, 5, 7, 64, 1 << 20} {
			var m ETagMarker
			var out []byte
			for in := []byte(tt.in); len(in) > 0; {
				n := min(size, len(in))
				out = m.Transform(out, in[:n])
				in = in[n:]
			}
			out = m.Flush(out)
			if string(out) != tt.want {
				t.Errorf("%s, pieces of %d:\n got %s\nwant %s", tt.name, size, out, tt.want)
			}
		}
		got, err := io.ReadAll(MarkETagsReader(io.NopCloser(iotest.OneByteReader(strings.NewReader(tt.in)))))
		if err != nil || !bytes.Equal(got, []byte(tt.want)) {
			t.Errorf("%s, reader: got %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}

// TestUnmarkConditionsCopies: the inbound header's value slices, which an
// outbound header may share, are never written.
func TestUnmarkConditionsCopies(t *testing.T) {
	vv := []string{`"a"`, `"b-s3x"`}
	h := http.Header{"If-Match": vv, "If-None-Match": {`W/"c-s3x", *`}}
	UnmarkConditions(h)
	if vv[1] != `"b-s3x"` || !slices.Equal(h["If-Match"], []string{`"a"`, `"b"`}) || h.Get("If-None-Match") != `W/"c", *` {
		t.Errorf("shared %q, header %v", vv, h)
	}
}
