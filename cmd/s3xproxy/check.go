package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/s3xproxy/s3xproxy/config"
	"github.com/s3xproxy/s3xproxy/proxy/gateway"
)

// runCheck validates a config file: `s3xproxy check --config FILE` (or
// `s3xproxy check FILE`). It prints every problem as "file:line: key:
// message" on stderr and exits 1, or prints "ok" on stdout and exits 0.
// ${VAR} references are expanded from the environment, as serve does.
// Usage errors exit 2.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file to validate")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: s3xproxy check --config FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" && fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	if *path == "" || fs.NArg() > 1 || (fs.NArg() == 1 && *path != fs.Arg(0)) {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		if es := config.AsErrors(err); es != nil {
			for _, e := range es {
				fmt.Fprintln(stderr, e.Error())
			}
		} else {
			fmt.Fprintf(stderr, "s3xproxy check: %v\n", err)
		}
		return 1
	}
	for _, w := range configWarnings(cfg) {
		fmt.Fprintf(stderr, "%s: warning: %s\n", *path, w)
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// configWarnings lists settings that are valid but probably not meant:
// an admin listener reachable from other hosts without admin.token, whose
// reload and pprof endpoints will then answer 403.
func configWarnings(cfg *config.Config) []string {
	var out []string
	if a := cfg.Admin; a.Listen != "" && a.Token == "" && !gateway.LoopbackAddr(a.Listen) {
		out = append(out, fmt.Sprintf("admin.token: not set and admin.listen %q is not loopback: "+
			"POST /-/reload and /debug/pprof/ will answer 403 (set admin.token, e.g. \"${ADMIN_TOKEN}\")", a.Listen))
	}
	return out
}
