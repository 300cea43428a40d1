package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// leafKeys lists the key path of every configurable value in t; list
// elements are written [0] and maps as the map key itself.
func leafKeys(t reflect.Type, prefix string) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Duration]() {
		return []string{prefix}
	}
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if t.Field(i).Tag.Get("deprecated") != "" {
			continue // accepted, documented, but not shown in the example
		}
		ft := t.Field(i).Type
		p := joinKey(prefix, name)
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			out = append(out, leafKeys(ft.Elem(), p+"[0]")...)
			continue
		}
		out = append(out, leafKeys(ft, p)...)
	}
	return out
}

// TestExampleShowsEveryKey: s3xproxy.example.yaml writes every key.
func TestExampleShowsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../s3xproxy.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	d := newDecoder("example", envMap(map[string]string{"LEGACY_SECRET_1": "x", "SESSION_KEY_1": "x"}))
	d.decode(doc.Content[0], reflectValue(&Config{}), "")
	for _, k := range leafKeys(reflect.TypeFor[Config](), "") {
		if _, ok := d.lines[k]; !ok && k != "upstream.zones" {
			t.Errorf("example file lacks %s", k)
		}
	}
}

// TestDocsDescribeEveryKey: docs/config.md names every key in a table row.
func TestDocsDescribeEveryKey(t *testing.T) {
	data, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, k := range leafKeys(reflect.TypeFor[Config](), "") {
		section, rest, _ := strings.Cut(k, ".")
		rest = strings.ReplaceAll(rest, "[0]", "[]")
		last := rest[strings.LastIndex(rest, ".")+1:]
		if !strings.Contains(doc, "## "+section) {
			t.Errorf("docs/config.md lacks section %s", section)
		}
		re := regexp.MustCompile("(?m)^\\| [^|]*`([a-z_\\[\\]]+\\.)*" + regexp.QuoteMeta(last) + "`")
		if !re.MatchString(doc) {
			t.Errorf("docs/config.md has no table row for %s", k)
		}
	}
}
