package config

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Load reads, expands (from the process environment), decodes, defaults and
// validates the file at path. A file that cannot be read gives a wrapped
// os error; an invalid file gives Errors holding every problem found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load on bytes already read. filename is used only in errors; env
// resolves ${VAR} references (nil means os.LookupEnv). Expansion happens in
// scalar values only, never in keys, and before the value is parsed, so
// "max_entries: ${MAX:-100}" works. On failure the returned error is Errors,
// sorted by line; the Config is nil. Parse does not modify data and is safe
// for concurrent use; it reads the file system only to check that the files
// the config names exist.
func Parse(filename string, data []byte, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{syntaxError(filename, err)}
	}
	d := newDecoder(filename, env)
	cfg := &Config{}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		d.decode(doc.Content[0], reflectValue(cfg), "")
	}
	applyDefaults(cfg, d.set)
	validate(cfg, d)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	return cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error into a FieldError with its line.
func syntaxError(filename string, err error) *FieldError {
	fe := &FieldError{File: filename, Msg: err.Error()}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = m[2]
	}
	return fe
}
