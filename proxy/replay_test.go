package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReplayBodyDetach(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		length     int64
		limit      int64
		read       int // bytes read before detach; -1 reads to EOF
		replayable bool
	}{
		{"never read", "hello world", 11, 4, 0, true},
		{"read to EOF within the limit", "hello world", 11, 64, -1, true},
		{"read to EOF, unknown length, within the limit", "hello world", -1, 64, -1, true},
		{"read to EOF beyond the limit", "hello world", 11, 4, -1, false},
		{"unknown length overflowing the limit", "hello world", -1, 4, -1, false},
		{"partly read within the limit", "hello world", 11, 64, 5, true},
		{"partly read beyond the limit", "hello world", 11, 4, 5, false},
		{"empty body read to EOF", "", 0, 64, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &call{}
			b := newReplayBody(io.NopCloser(strings.NewReader(tt.body)), tt.length, c, replayPolicy{limit: tt.limit})
			switch {
			case tt.read < 0:
				if got, err := io.ReadAll(b); err != nil || string(got) != tt.body {
					t.Fatalf("first read: %q %v", got, err)
				}
			case tt.read > 0:
				if _, err := io.ReadFull(b, make([]byte, tt.read)); err != nil {
					t.Fatal(err)
				}
			}
			replay, ok := b.detach()
			if ok != tt.replayable {
				t.Fatalf("replayable = %v, want %v", ok, tt.replayable)
			}
			if _, err := b.Read(make([]byte, 1)); !errors.Is(err, errDetached) {
				t.Fatalf("read after detach: %v, want errDetached", err)
			}
			if !ok {
				return
			}
			got, err := io.ReadAll(replay)
			if err != nil || string(got) != tt.body {
				t.Fatalf("replay gave %q %v, want %q", got, err, tt.body)
			}
			if want := int64(len(tt.body)); tt.read == 0 && c.bytesIn.Load() != want {
				t.Fatalf("bytes counted %d, want %d", c.bytesIn.Load(), want)
			}
		})
	}
}

func TestReplayBodyNil(t *testing.T) {
	if b := newReplayBody(nil, 0, &call{}, replayPolicy{limit: 10}); b != nil {
		t.Fatal("nil body wrapped")
	}
	if b := newReplayBody(http.NoBody, 0, &call{}, replayPolicy{limit: 10}); b != nil {
		t.Fatal("http.NoBody wrapped")
	}
	var b *replayBody
	if r, ok := b.detach(); r != nil || !ok {
		t.Fatalf("nil detach = %v, %v; want nil, true", r, ok)
	}
}

func TestReplayBodyRecordsReadError(t *testing.T) {
	boom := errors.New("payload hash mismatch")
	c := &call{}
	b := newReplayBody(io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{boom})), 10, c, replayPolicy{limit: 64})
	_, err := io.ReadAll(b)
	if !errors.Is(err, boom) || !errors.Is(c.bodyError(), boom) {
		t.Fatalf("read error %v, recorded %v; want %v", err, c.bodyError(), boom)
	}
	if _, ok := b.detach(); ok {
		t.Fatal("a body that failed mid-way is replayable")
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestHandlersAndShims checks the seams the compatibility layer plugs into:
// a Handler answers its operation (and may call Upstream), a Shim edits the
// outbound request, operations without a handler get 501.
func TestHandlersAndShims(t *testing.T) {
	up := &fakeUpstream{}
	var p *Proxy
	sink := &recordSink{}
	p, srv := newTestProxy(t, up, func(o *Options) {
		o.Observer = sink
		o.Shims = []RequestShim{func(r *Request) error {
			if r.Header.Get("X-Test-Refuse") != "" {
				return errors.New("refused")
			}
			r.Header.Del("X-Amz-Acl")
			r.Header.Set("X-Shimmed", r.Op.Name)
			return nil
		}}
		o.Handlers = map[string]Handler{"ListObjects": func(w http.ResponseWriter, r *Request) error {
			req, _ := http.NewRequestWithContext(r.In.Context(), "GET", "http://ignored/from-handler?list-type=2", nil)
			resp, err := p.Upstream(r.In.Context(), req, UpstreamTarget{Target: r.Target, Auth: SignSession, Mode: "ReadWrite"})
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			w.Header().Set("X-Handled", r.Op.Name)
			_, err = io.Copy(w, resp.Body)
			return err
		}}
	})
	send := func(method, path string, hdr http.Header) (*http.Response, string) {
		t.Helper()
		req := newReq(t, method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(sign(t, req, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, _ := send("GET", "/data/k", http.Header{"X-Amz-Acl": {"private"}})
	if s := up.seen(); resp.StatusCode != 200 || s[len(s)-1].Header.Get("X-Shimmed") != "GetObject" || s[len(s)-1].Header.Get("X-Amz-Acl") != "" {
		t.Fatalf("shim not applied: %d %v", resp.StatusCode, s[len(s)-1].Header)
	}
	if resp, body := send("GET", "/data/k", http.Header{"X-Test-Refuse": {"yes"}}); resp.StatusCode != 500 || !strings.Contains(body, "InternalError") {
		t.Fatalf("refusing shim: %d %s", resp.StatusCode, body)
	}
	resp, _ = send("GET", "/data?prefix=a", nil)
	s := up.seen()
	if resp.Header.Get("X-Handled") != "ListObjects" || s[len(s)-1].RequestURI != "/from-handler?list-type=2" || s[len(s)-1].Host != testHost {
		t.Fatalf("handler: header %q, upstream saw %+v", resp.Header.Get("X-Handled"), s[len(s)-1])
	}
	if rec := sink.last(); rec.Operation != "ListObjects" || rec.Session != "hit" || rec.Upstream <= 0 {
		t.Fatalf("handler's record: %+v, want its Upstream call's session and latency", rec)
	}
	if resp, body := send("POST", "/", nil); resp.StatusCode != 405 || !strings.Contains(body, "<Code>MethodNotAllowed</Code>") {
		t.Fatalf("POST on the service: %d %s", resp.StatusCode, body)
	}
}
