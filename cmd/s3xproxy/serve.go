package main

import (
	"fmt"
	"io"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "s3xproxy serve: not implemented yet") // stub
	return 1
}
