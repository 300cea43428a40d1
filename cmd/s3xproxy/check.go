package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/s3xproxy/s3xproxy/config"
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
	if _, err := config.Load(*path); err != nil {
		if es := config.AsErrors(err); es != nil {
			for _, e := range es {
				fmt.Fprintln(stderr, e.Error())
			}
		} else {
			fmt.Fprintf(stderr, "s3xproxy check: %v\n", err)
		}
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
