package wsdial

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestEveryModuleLicensed checks that each module in the repository carries
// the root LICENSE, word for word. A module's zip, which is what `go get` and
// pkg.go.dev see, holds only the files below its own go.mod, so a sub-module
// is covered only by a copy of its own.
func TestEveryModuleLicensed(t *testing.T) {
	want, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(want, []byte("Redistribution and use in source and binary forms")) ||
		!bytes.Contains(want, []byte("The wsdial Authors")) {
		t.Fatal("LICENSE is not the BSD-3-Clause text of The wsdial Authors")
	}
	var modules int
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "go.mod" || path == "go.mod" {
			return nil
		}
		modules++
		dir := filepath.Dir(path)
		got, err := os.ReadFile(filepath.Join(dir, "LICENSE"))
		switch {
		case err != nil:
			t.Errorf("module %s has no LICENSE: copy the root's there (%v)", dir, err)
		case !bytes.Equal(got, want):
			t.Errorf("%s/LICENSE differs from the root's", dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if modules == 0 {
		t.Error("found no sub-module; the walk is broken")
	}
}
