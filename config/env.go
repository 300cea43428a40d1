package config

import (
	"fmt"
	"strings"
)

// expand replaces ${NAME} and ${NAME:-default} in s with values from env.
// ${NAME:-default} uses default when NAME is unset or empty (as in sh);
// ${NAME} with NAME unset is an error. "$${" is a literal "${". Any other
// "$" is kept as is. It reports whether any substitution happened. Errors
// name the variable, never its value.
func expand(s string, env func(string) (string, bool)) (string, bool, error) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	var b strings.Builder
	expanded := false
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), expanded, nil
		}
		if i > 0 && s[i-1] == '$' { // "$${" escape
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", false, fmt.Errorf("unterminated ${ in value")
		}
		val, err := lookup(s[i+2:i+end], env)
		if err != nil {
			return "", false, err
		}
		b.WriteString(val)
		expanded = true
		s = s[i+end+1:]
	}
}

// lookup resolves the inside of one ${...}.
func lookup(expr string, env func(string) (string, bool)) (string, error) {
	name, def, hasDef := strings.Cut(expr, ":-")
	if !validEnvName(name) {
		return "", fmt.Errorf("invalid environment variable reference ${%s}", name)
	}
	val, ok := env(name)
	switch {
	case hasDef && val == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
	}
	return val, nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
