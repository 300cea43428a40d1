package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// decoder walks a yaml.Node tree against a Go value. Unlike yaml.v3's own
// decoding it reports every problem with its line and key path, rejects
// unknown and duplicate keys, parses durations and byte sizes, expands
// ${VAR} in scalar values, and remembers which keys were written so that
// defaults apply only to absent keys.
type decoder struct {
	file string
	env  func(string) (string, bool)
	errs Errors
	// lines maps a key path to the line it was written on.
	lines map[string]int
	// set holds key paths given a non-null value in the file.
	set map[string]bool
	// fromEnv holds key paths whose value came from ${VAR} expansion; such
	// values are never quoted in error messages.
	fromEnv map[string]bool
	// bad holds key paths that already have an error, so validation does not
	// pile a second, confusing error on top.
	bad map[string]bool
}

func newDecoder(file string, env func(string) (string, bool)) *decoder {
	return &decoder{
		file: file, env: env,
		lines: map[string]int{}, set: map[string]bool{},
		fromEnv: map[string]bool{}, bad: map[string]bool{},
	}
}

// errorf records an error at line for key path.
func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.bad[path] = true
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Key: path, Msg: fmt.Sprintf(format, args...)})
}

// show quotes value for an error message unless it came from the
// environment (it may be a secret).
func (d *decoder) show(path, value string) string {
	if d.fromEnv[path] {
		return "(value from environment)"
	}
	return strconv.Quote(value)
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows YAML aliases (*anchor).
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// decode stores n into v, recording errors under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	d.set[path] = true
	switch {
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case v.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	default:
		d.decodeScalar(n, v, path)
	}
}

// fieldsByKey maps yaml keys to struct field indexes.
func fieldsByKey(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "must be a mapping, not %s", kindName(n))
		return
	}
	fields := fieldsByKey(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			d.decodeMerge(val, v, path)
			continue
		}
		key := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, key, "duplicate key (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k.Line, key, "unknown key")
			continue
		}
		d.lines[key] = k.Line
		d.decode(val, v.Field(idx), key)
	}
}

// decodeMerge handles "<<: *anchor" and "<<: [*a, *b]".
func (d *decoder) decodeMerge(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n.Kind == yaml.SequenceNode {
		for _, m := range n.Content {
			d.decodeStruct(resolve(m), v, path)
		}
		return
	}
	d.decodeStruct(n, v, path)
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, path, "must be a list, not %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		return // [] is the same as leaving the key out: a nil slice
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		key := fmt.Sprintf("%s[%d]", path, i)
		d.lines[key] = e.Line
		d.decode(e, s.Index(i), key)
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "must be a mapping, not %s", kindName(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		key := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, key, "duplicate key (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[key] = k.Line
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, key)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

// scalarValue returns n's ${VAR}-expanded text.
func (d *decoder) scalarValue(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "must be a single value, not %s", kindName(n))
		return "", false
	}
	s, expanded, err := expand(n.Value, d.env)
	if err != nil {
		d.errorf(n.Line, path, "%v", err)
		return "", false
	}
	if expanded {
		d.fromEnv[path] = true
	}
	return s, true
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalarValue(n, path)
	if !ok {
		return
	}
	var err error
	switch {
	case v.Type() == durationType:
		var dur time.Duration
		dur, err = parseDuration(s)
		v.SetInt(int64(dur))
	case v.Type() == byteSizeType:
		var b ByteSize
		b, err = ParseByteSize(s)
		v.SetInt(int64(b))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		var b bool
		b, err = parseBool(s)
		v.SetBool(b)
	case v.CanInt():
		var i int64
		i, err = strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			err = fmt.Errorf("must be an integer")
		}
		v.SetInt(i)
	case v.CanFloat():
		var f float64
		f, err = strconv.ParseFloat(s, 64)
		if err != nil {
			err = fmt.Errorf("must be a number")
		}
		v.SetFloat(f)
	default:
		err = fmt.Errorf("unsupported field type %s", v.Type())
	}
	if err != nil {
		d.errorf(n.Line, path, "%v, got %s", err, d.show(path, s))
	}
}

// parseDuration parses a Go duration ("90s", "5m", "1h30m"). A bare number
// is rejected, except 0, because its unit would be a guess.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as 500ms, 60s or 5m")
	}
	return dur, nil
}

// parseBool accepts true/false in any case and, like yaml.v3 for bool
// fields, the YAML 1.1 words yes/no/on/off.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false")
}
