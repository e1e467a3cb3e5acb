package wsdial

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/doc"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExamplesStandAlone builds, for each Example of this package and of
// wsdialtest, the program that pkg.go.dev shows and runs (go/doc's Play
// file), and type-checks it: an example that leans on a helper from another
// test file, or on an internal package, cannot be copied and run.
func TestExamplesStandAlone(t *testing.T) {
	fset := token.NewFileSet()
	type program struct {
		name string
		file *ast.File
	}
	var programs []program
	imports := map[string]bool{}
	for _, dir := range []string{".", "wsdialtest"} {
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(f.Name.Name, "_test") {
				continue // internal tests hold no examples a user sees
			}
			for _, ex := range doc.Examples(f) {
				id := dir + ": Example" + strings.TrimPrefix("_"+ex.Name, "_")
				if ex.Play == nil {
					t.Errorf("%s (%s): go/doc makes no program of it", id, name)
					continue
				}
				programs = append(programs, program{id, ex.Play})
				// The Play file's Imports field is not filled in: read its
				// import declarations.
				for _, imp := range importSpecs(ex.Play) {
					path, _ := strconv.Unquote(imp.Path.Value)
					if strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal") {
						t.Errorf("%s imports %s, which a user cannot", id, path)
					}
					imports[path] = true
				}
			}
		}
	}
	if len(programs) == 0 {
		t.Fatal("found no examples; the search is broken")
	}
	lookup := exportData(t, imports)
	for _, p := range programs {
		conf := types.Config{Importer: importer.ForCompiler(fset, "gc", lookup)}
		if _, err := conf.Check("main", fset, []*ast.File{p.file}, nil); err != nil {
			var src bytes.Buffer
			format.Node(&src, fset, p.file)
			t.Errorf("%s does not build on its own: %v\n%s", p.name, err, src.String())
		}
	}
}

// importSpecs returns the specs of f's import declarations.
func importSpecs(f *ast.File) []*ast.ImportSpec {
	var specs []*ast.ImportSpec
	for _, decl := range f.Decls {
		if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			for _, spec := range gd.Specs {
				specs = append(specs, spec.(*ast.ImportSpec))
			}
		}
	}
	return specs
}

// exportData asks the go command for the compiled export data of imports
// and everything they depend on, and returns a lookup for the gc importer.
func exportData(t *testing.T, imports map[string]bool) func(string) (io.ReadCloser, error) {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}"}
	for path := range imports {
		args = append(args, path)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	files := map[string]string{}
	for line := range strings.Lines(string(out)) {
		path, file, _ := strings.Cut(strings.TrimSpace(line), "=")
		files[path] = file
	}
	return func(path string) (io.ReadCloser, error) {
		file := files[path]
		if file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	}
}
