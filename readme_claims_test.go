package wsdial

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readmeSection returns the section of README.md under the heading title.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, s, ok := strings.Cut(string(b), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", title)
	}
	s, _, _ = strings.Cut(s, "\n## ")
	return s
}

// TestREADMEHostileCounts holds the README's account of the hostile suite
// to the suite's tables: how many peers it plays, and how many must fail,
// must succeed, or send broken frames.
func TestREADMEHostileCounts(t *testing.T) {
	text := strings.Join(strings.Fields(readmeSection(t, "What the tests prove")), " ")
	fail, succeed := 0, 0
	for _, p := range append(append([]hostilePeer(nil), hostileTargets...), hostileProxies...) {
		if p.check != nil {
			succeed++
		} else {
			fail++
		}
	}
	for pattern, want := range map[string]int{
		`plays (\d+) misbehaving servers and proxies`: fail + succeed + len(hostileFrames),
		`(\d+) of them must fail`:                     fail,
		`(\d+) must succeed`:                          succeed,
		`(\d+) send frames that break RFC 6455`:       len(hostileFrames),
	} {
		m := regexp.MustCompile(pattern).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("README.md does not say %q", pattern)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want {
			t.Errorf("README.md says %q, the suite has %d", m[0], want)
		}
	}
}

// TestREADMEFuzzTargets holds the README's list of fuzz targets to the
// repository's: each target of every module but the interop suite's is named.
func TestREADMEFuzzTargets(t *testing.T) {
	text := readmeSection(t, "What the tests prove")
	decl := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (path == "interop" || strings.HasPrefix(e.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			if !strings.Contains(text, "`"+m[1]+"`") {
				t.Errorf("README.md does not name %s (%s)", m[1], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
