package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrors checks that every class of error names file, line and key
// exactly. Each source starts at line 1; want lists the whole error output.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SPACED": "0123456789 abcdefgh", "CERT": cert, "DIR": dir, "MISSING": filepath.Join(dir, "missing.pem")}
	const region = "upstream: {region: us-west-2}\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"syntax", "server:\n  listen: [\n", []string{"c.yaml:2: did not find expected node content"}},
		{"unknown top-level key", region + "servr: {}\n", []string{"c.yaml:2: servr: unknown key"}},
		{"unknown nested key", region + "sessions:\n  create_rat: 5\n", []string{"c.yaml:3: sessions.create_rat: unknown key"}},
		{"unknown key in list item", region + "auth:\n  credentials:\n    - access_key_id: a\n      secret_access_key: b\n      acces: read\n",
			[]string{"c.yaml:6: auth.credentials[0].acces: unknown key"}},
		{"duplicate key", region + "log:\n  level: info\n  level: debug\n", []string{"c.yaml:4: log.level: duplicate key (first on line 3)"}},
		{"missing region", "log: {level: info}\n", []string{"c.yaml: upstream.region: required"}},
		{"missing region under upstream", "upstream:\n  fips: true\n", []string{"c.yaml:1: upstream.region: required"}},
		{"bad region", "upstream: {region: Mars}\n", []string{`c.yaml:1: upstream.region: must be a region such as us-west-2, got "Mars"`}},
		{"rate must be > 0", region + "sessions:\n  create_rate: 0\n", []string{"c.yaml:3: sessions.create_rate: must be > 0"}},
		{"per-identity budget", region + "sessions:\n  create_rate_per_identity: 0\n  create_burst_per_identity: 0\n  negative_ttl: 0s\n", []string{
			"c.yaml:3: sessions.create_rate_per_identity: must be > 0",
			"c.yaml:4: sessions.create_burst_per_identity: must be >= 1",
			"c.yaml:5: sessions.negative_ttl: must be > 0"}},
		{"not a number", region + "sessions:\n  create_burst: lots\n", []string{`c.yaml:3: sessions.create_burst: must be an integer, got "lots"`}},
		{"bad duration", region + "sessions:\n  idle_ttl: 10\n", []string{`c.yaml:3: sessions.idle_ttl: must be a duration such as 500ms, 60s or 5m, got "10"`}},
		{"negative duration", region + "server: {shutdown_grace: -1s}\n", []string{"c.yaml:2: server.shutdown_grace: must not be negative"}},
		{"refresh too long", region + "sessions: {refresh_before: 5m}\n", []string{"c.yaml:2: sessions.refresh_before: must be > 0 and < 5m (the session lifetime)"}},
		{"bad byte size", region + "retry:\n  replay_buffer: 8 parsecs\n", []string{`c.yaml:3: retry.replay_buffer: must be a size such as 1024, 512KiB, 8MiB or 1GB, got "8 parsecs"`}},
		{"bad bool", region + "log: {access_log: maybe}\n", []string{`c.yaml:2: log.access_log: must be true or false, got "maybe"`}},
		{"compat.md5_etags not a bool", region + "compat:\n  md5_etags: md5\n", []string{`c.yaml:3: compat.md5_etags: must be true or false, got "md5"`}},
		{"list page cap out of range", region + "compat:\n  max_list_pages_per_request: 0\n",
			[]string{"c.yaml:3: compat.max_list_pages_per_request: must be between 1 and 1000, got 0"}},
		{"compat.payload_md5 unknown", region + "compat:\n  md5_etags: true\n  payload_md5: sometimes\n", []string{`c.yaml:4: compat.payload_md5: must be one of declared, always, got "sometimes"`}},
		{"buckets.default_zone not a zone id", region + "buckets:\n  default_zone: usw2\n", []string{`c.yaml:3: buckets.default_zone: zone id must be 8, 9, 13, 14 or 20 characters of a-z, 0-9 and - (e.g. usw2-az1), got "usw2"`}},
		{"create_buckets not a bool", region + "auth:\n  credentials:\n    - {access_key_id: K, secret_access_key: S, create_buckets: yes please}\n", []string{`c.yaml:4: auth.credentials[0].create_buckets: must be true or false, got "yes please"`}},
		{"mapping for scalar", region + "log:\n  level: {a: b}\n", []string{"c.yaml:3: log.level: must be a single value, not a mapping"}},
		{"scalar for list", region + "server: {virtual_host_domains: s3.local}\n", []string{"c.yaml:2: server.virtual_host_domains: must be a list, not a scalar"}},
		{"enums", region + "tls: {mode: on}\nlog: {level: loud, format: xml}\nbuckets: {default: allow}\nsessions: {mode: rw}\nauth: {anonymous: all}\n", []string{
			`c.yaml:2: tls.mode: must be one of off, files, acme, self-signed, got "on"`,
			`c.yaml:3: log.level: must be one of trace, debug, info, warn, error, disabled, got "loud"`,
			`c.yaml:3: log.format: must be one of json, console, got "xml"`,
			`c.yaml:4: buckets.default: must be one of passthrough, deny, got "allow"`,
			`c.yaml:5: sessions.mode: must be one of auto, readwrite, iam, got "rw"`,
			`c.yaml:6: auth.anonymous: must be one of deny, read, read-write, got "all"`}},
		{"listen addresses", region + "server: {listen: \"8080\"}\nadmin: {listen: \":99999\"}\n", []string{
			`c.yaml:2: server.listen: must be host:port or :port, got "8080"`,
			`c.yaml:3: admin.listen: port must be a number from 0 to 65535, got ":99999"`}},
		{"admin token", region + "admin:\n  token: short-secret\n", []string{"c.yaml:3: admin.token: must be at least 16 characters (got 12)"}},
		{"admin token with a space", region + "admin:\n  token: \"${SPACED}\"\n", []string{"c.yaml:3: admin.token: must not contain spaces or control characters"}},
		{"nothing listens", region + "server: {listen: \"\"}\n", []string{"c.yaml:2: server.listen: must be set when tls.mode is off (nothing would listen)"}},
		{"upstream pool", "upstream: {region: us-west-2, max_idle_conns: 0, max_idle_conns_per_host: 8, idle_conn_timeout: 0s, response_header_timeout: -1s}\n", []string{
			"c.yaml:1: upstream.max_idle_conns: must be >= 1",
			"c.yaml:1: upstream.max_idle_conns_per_host: must be >= 1 and <= upstream.max_idle_conns",
			"c.yaml:1: upstream.idle_conn_timeout: must be > 0",
			"c.yaml:1: upstream.response_header_timeout: must not be negative"}},
		{"per-host above the total", "upstream: {region: us-west-2, max_idle_conns: 4, max_idle_conns_per_host: 8}\n", []string{
			"c.yaml:1: upstream.max_idle_conns_per_host: must be >= 1 and <= upstream.max_idle_conns"}},
		{"dial address needs host", "upstream: {region: us-west-2, dial_address: \":9000\"}\n", []string{`c.yaml:1: upstream.dial_address: must name a host, got ":9000"`}},
		{"aliases", region + "buckets:\n  aliases:\n    - {name: logs, target: logs--usw2-az1}\n    - {name: logs, target: x--usaz1--x-s3, anonymous: write}\n    - {name: a--usw2-az1--x-s3, target: a--usw2-az1--x-s3}\n", []string{
			`c.yaml:4: buckets.aliases[0].target: must be a directory bucket name ending in --x-s3, got "logs--usw2-az1"`,
			`c.yaml:5: buckets.aliases[1].name: duplicate alias "logs" (also buckets.aliases[0])`,
			`c.yaml:5: buckets.aliases[1].target: zone id "usaz1" must be 8, 9, 13, 14 or 20 characters of a-z, 0-9 and -, got "x--usaz1--x-s3"`,
			`c.yaml:5: buckets.aliases[1].anonymous: must be one of deny, read, read-write, got "write"`,
			`c.yaml:6: buckets.aliases[2].name: must not end in --x-s3 (it would hide a real directory bucket)`}},
		{"credentials", region + "auth:\n  credentials:\n    - {access_key_id: K1, secret_access_key: s, access: admin}\n    - {access_key_id: K1, secret_access_key: s}\n    - {access_key_id: K2, buckets: [\"[\"]}\n", []string{
			`c.yaml:4: auth.credentials[0].access: must be one of read, read-write, deny, got "admin"`,
			`c.yaml:5: auth.credentials[1].access_key_id: duplicate access key id (also auth.credentials[0])`,
			`c.yaml:6: auth.credentials[2].secret_access_key: required`,
			`c.yaml:6: auth.credentials[2].buckets[0]: must be a bucket name or glob such as logs-*, got "["`}},
		{"upstream credentials", "upstream:\n  region: us-west-2\n  credentials:\n    access_key_id: AK\n    profile: p\n    role_arn: nope\n", []string{
			`c.yaml:3: upstream.credentials.secret_access_key: required with access_key_id`,
			`c.yaml:5: upstream.credentials.profile: cannot be combined with static access_key_id/secret_access_key`,
			`c.yaml:6: upstream.credentials.role_arn: must be an IAM role ARN such as arn:aws:iam::123456789012:role/s3xproxy`}},
		{"tls files", region + "tls:\n  mode: files\n  cert_file: ${CERT}\n  key_file: ${MISSING}\n", []string{
			`c.yaml:5: tls.key_file: cannot use file (value from environment): no such file or directory`}},
		{"tls file is a dir", region + "tls: {mode: files, cert_file: " + dir + ", key_file: " + cert + "}\n", []string{
			`c.yaml:2: tls.cert_file: "` + dir + `" is not a regular file`}},
		{"acme", region + "tls:\n  mode: acme\n  acme: {on_demand: true, ca: \"ftp://x\"}\n", []string{
			`c.yaml:4: tls.acme.email: required when tls.mode is acme`,
			`c.yaml:4: tls.acme.on_demand: needs server.virtual_host_domains (certificates are issued for <bucket>.<domain>)`,
			`c.yaml:4: tls.acme.ca: must be an http(s) ACME directory URL, got "ftp://x"`}},
		{"memory limits", region + "server:\n  body_idle_timeout: -1s\n  max_connections: -1\n  max_in_flight: -2\n", []string{
			"c.yaml:3: server.body_idle_timeout: must not be negative",
			"c.yaml:4: server.max_connections: must be >= 0 (0: no cap)",
			"c.yaml:5: server.max_in_flight: must be >= 0 (0: no cap)"}},
		{"redirect without tls", region + "server: {http_redirect: true}\n", []string{"c.yaml:2: server.http_redirect: needs tls.mode other than off"}},
		{"env unset", region + "auth:\n  credentials:\n    - access_key_id: K\n      secret_access_key: ${NOT_SET}\n", []string{
			"c.yaml:5: auth.credentials[0].secret_access_key: environment variable NOT_SET is not set (use ${NOT_SET:-default} for a default)"}},
		{"zones", "upstream:\n  region: us-west-2\n  zones: {usw2-az1: mars-1, bad: us-west-2}\n", []string{
			`c.yaml:3: upstream.zones.bad: zone id must be 8, 9, 13, 14 or 20 characters of a-z, 0-9 and - (e.g. usw2-az1)`,
			`c.yaml:3: upstream.zones.usw2-az1: must be a region such as us-west-2, got "mars-1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(tt.src), envMap(env))
			if err == nil {
				t.Fatalf("no error; cfg %+v", cfg)
			}
			if cfg != nil {
				t.Error("cfg must be nil on error")
			}
			es := AsErrors(err)
			got := make([]string, len(es))
			for i, e := range es {
				got[i] = e.Error()
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestErrorsType(t *testing.T) {
	_, err := Parse("f.yaml", []byte("log: {level: x}\n"), envMap(nil))
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("errors.As Errors: %v", err)
	}
	var fe *FieldError
	// Errors are sorted by line; keys with no line of their own come first.
	if !errors.As(err, &fe) || fe.File != "f.yaml" || fe.Line != 0 || fe.Key != "upstream.region" {
		t.Fatalf("errors.As *FieldError: %+v", fe)
	}
	if want := "f.yaml: upstream.region: required\nf.yaml:1: log.level: must be one of trace, debug, info, warn, error, disabled, got \"x\""; err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
}
