package main

import (
	"fmt"
	"io"
)

func runEmulator(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "s3xproxy emulator: not implemented yet") // stub
	return 1
}
