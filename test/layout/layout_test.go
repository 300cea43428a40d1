// Package layout checks the repository's architecture rules (DESIGN.md
// "Layout", STYLE.md "Packages") by parsing the source: every package says
// what it owns in a doc comment, dependencies flow one way (cmd → config,
// cmd → proxy → {session, signing}), and signing stands on the standard
// library and the SDK's signer alone.
package layout

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/s3xproxy/s3xproxy"

// pkg is what the rules need of one package: its non-test files' doc
// comments and imports.
type pkg struct {
	dir     string // relative to the repository root, slash-separated
	doc     bool
	imports map[string]bool
}

func loadPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		p := pkgs[rel]
		if p == nil {
			p = &pkg{dir: rel, imports: map[string]bool{}}
			pkgs[rel] = p
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.doc = true
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			p.imports[path] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages; is the walk rooted right?", len(pkgs))
	}
	return pkgs
}

func under(dir string, prefixes ...string) bool {
	for _, p := range prefixes {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range loadPackages(t) {
		if !p.doc {
			t.Errorf("%s: no package doc comment saying what it owns and must not do", p.dir)
		}
	}
}

func TestNoGrabBagPackages(t *testing.T) {
	for _, p := range loadPackages(t) {
		switch filepath.Base(p.dir) {
		case "util", "utils", "common", "misc", "helpers":
			t.Errorf("%s: a grab-bag package; give the code a home by concern", p.dir)
		}
	}
}

func TestDependenciesFlowOneWay(t *testing.T) {
	forbidden := []struct {
		from    []string // package dirs (and their sub-packages)
		to      string   // import path prefix they must not use
		because string
		except  []string // import paths under to that are allowed
	}{
		{[]string{"proxy", "session", "signing"}, module + "/config", "core packages take Options structs; cmd maps the config", nil},
		{[]string{"proxy", "session", "signing", "config"}, module + "/cmd", "only cmd wires and exits", nil},
		{[]string{"proxy", "session", "signing", "config"}, module + "/test", "production code never depends on the emulator or tests", nil},
		{[]string{"signing", "session"}, module + "/proxy", "proxy depends on session and signing, not the reverse", nil},
		{[]string{"signing"}, module + "/session", "signing knows nothing of session caches", nil},
		{[]string{"config"}, module + "/", "config is plain data", nil},
		{[]string{"proxy/gateway"}, module + "/proxy", "the gateway serves any http.Handler; it knows nothing of the pipeline",
			[]string{module + "/proxy/s3err", module + "/proxy/gateway/acmetest"}},
		// The emulator is the tests' independent oracle: sharing the proxy's
		// canonical forms or signer would hide a bug common to both.
		{[]string{"test/emulator"}, module + "/proxy", "the emulator is an independent implementation of S3 Express", nil},
		{[]string{"test/emulator"}, module + "/session", "the emulator is an independent implementation of S3 Express", nil},
		{[]string{"test/emulator"}, module + "/signing", "the emulator is an independent implementation of S3 Express", nil},
	}
	for _, p := range loadPackages(t) {
		if p.dir == "proxy/gateway/acmetest" {
			continue // test support for the gateway's tests
		}
		for _, rule := range forbidden {
			if !under(p.dir, rule.from...) {
				continue
			}
			for im := range p.imports {
				if strings.HasPrefix(im, rule.to) && !slices.Contains(rule.except, im) {
					t.Errorf("%s imports %s: %s", p.dir, im, rule.because)
				}
			}
		}
	}
}

// TestCmdLinksOnlyTheEmulatorFromTest: cmd may import test/emulator, and
// nothing else under test/. The emulator ships in the binary on purpose:
// `s3xproxy dev` and `s3xproxy emulator` run it, so a user can try the
// proxy without AWS; harnesses and e2e helpers stay out of the binary.
func TestCmdLinksOnlyTheEmulatorFromTest(t *testing.T) {
	found := false
	for _, p := range loadPackages(t) {
		if !under(p.dir, "cmd") {
			continue
		}
		for im := range p.imports {
			if !strings.HasPrefix(im, module+"/test/") {
				continue
			}
			if im == module+"/test/emulator" {
				found = true
				continue
			}
			t.Errorf("%s imports %s: cmd may link only test/emulator from test/", p.dir, im)
		}
	}
	if !found {
		t.Error("no cmd package imports test/emulator; if dev and emulator moved it out, update this rule")
	}
}

// TestSigningImportsOnlyStdlibAndSDK: signing imports only the standard
// library and the SDK's signer and credential types (STYLE.md).
func TestSigningImportsOnlyStdlibAndSDK(t *testing.T) {
	allowed := map[string]bool{
		"github.com/aws/aws-sdk-go-v2/aws":           true,
		"github.com/aws/aws-sdk-go-v2/aws/signer/v4": true,
	}
	p := loadPackages(t)["signing"]
	if p == nil {
		t.Fatal("signing package not found")
	}
	for im := range p.imports {
		first, _, _ := strings.Cut(im, "/")
		if !strings.Contains(first, ".") { // standard library
			continue
		}
		if !allowed[im] {
			t.Errorf("signing imports %s; only the standard library and %v are allowed", im, allowed)
		}
	}
}
