package main

import (
	"fmt"
	"io"
)

func runVersion(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "s3xproxy version: not implemented yet") // stub
	return 1
}
