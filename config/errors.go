package config

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem in a config file. Msg never contains a value
// that came from ${VAR} expansion, nor any secret.
type FieldError struct {
	File string // file name as given to Load or Parse
	Line int    // 1-based line; 0 when unknown
	Key  string // dotted key path, e.g. "auth.credentials[1].access"; "" for the file itself
	Msg  string
}

// Error formats the error as "file:line: key: msg", leaving out the parts
// that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order. Load and Parse
// return it (as the error value) when the file is not valid; use errors.As
// to get it and print one line per FieldError.
type Errors []*FieldError

// Error joins the errors, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *FieldError.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// AsErrors returns the FieldErrors inside err, or nil if it holds none.
func AsErrors(err error) Errors {
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return Errors{fe}
	}
	return nil
}
