package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at link time: -ldflags "-X main.version=v1.2.3" (the
// Makefile passes `git describe`).
var version = "dev"

// runVersion prints the version, the Go version and platform, and the
// module and VCS details the Go toolchain embedded in the binary.
func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: s3xproxy version")
		return 2
	}
	fmt.Fprint(stdout, versionText(readBuildInfo()))
	return 0
}

// readBuildInfo is debug.ReadBuildInfo, nil when unavailable.
func readBuildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// versionText formats the version report; bi may be nil.
func versionText(bi *debug.BuildInfo) string {
	s := fmt.Sprintf("s3xproxy %s\ngo       %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi == nil {
		return s
	}
	s += fmt.Sprintf("module   %s %s\n", bi.Main.Path, bi.Main.Version)
	settings := map[string]string{}
	for _, kv := range bi.Settings {
		settings[kv.Key] = kv.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		s += fmt.Sprintf("revision %s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		s += fmt.Sprintf("commit   %s\n", t)
	}
	return s
}
