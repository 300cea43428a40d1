package main

import (
	"fmt"
	"io"
)

func runDev(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "s3xproxy dev: not implemented yet") // stub
	return 1
}
