// Command s3xproxy is the transparent signing reverse proxy for Amazon S3
// Express One Zone. Subcommands: serve, dev, emulator, check, version.
//
// Only this command parses flags, loads configuration, wires the packages
// together, handles signals and exits the process.
package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands; each lives in its own file.
var commands = []command{
	{"serve", "run the proxy from a config file (--config FILE)", runServe},
	{"dev", "run the emulator and the proxy in one process with a demo config", runDev},
	{"emulator", "run the S3 Express Zonal endpoint emulator", runEmulator},
	{"check", "validate a config file (--config FILE)", runCheck},
	{"version", "print the version", runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "s3xproxy: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: s3xproxy <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}
