package main

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeDemoMarker stands before the README's transcript of the demo.
const readmeDemoMarker = "<!-- the demo's output: TestREADMEDemoTranscript in cmd/wsdial runs the demo and compares -->"

// TestREADMEDemoTranscript runs the demo, standard output and standard
// error together as a terminal shows them, and checks that the README
// quotes it line for line, but for the ports and the times, which differ
// from run to run.
func TestREADMEDemoTranscript(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), readmeDemoMarker)
	if !ok {
		t.Fatalf("README.md has no %q", readmeDemoMarker)
	}
	block := strings.TrimPrefix(strings.TrimSpace(after), "```\n")
	quoted, _, ok := strings.Cut(block, "```")
	if !ok {
		t.Fatal("the README's demo transcript has no closing fence")
	}

	cmd := command(nil)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one pipe: the order a terminal shows
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	ports := regexp.MustCompile(`127\.0\.0\.1:\d+`)
	times := regexp.MustCompile(`\[ *\d+\.\d+ms\]`)
	normal := func(s string) string {
		return times.ReplaceAllString(ports.ReplaceAllString(strings.TrimSpace(s), "127.0.0.1:PORT"), "[TIME]")
	}
	if got, want := normal(out.String()), normal(quoted); got != want {
		t.Errorf("the demo prints, ports and times aside:\n%s\n\nthe README quotes:\n%s", got, want)
	}
}

// TestREADMEListsEveryFlag checks that the README's list of the flags that
// -h prints is the command's flags, no more and no fewer.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const intro = "prints the flags on standard output:"
	_, after, ok := strings.Cut(strings.Join(strings.Fields(string(readme)), " "), intro)
	if !ok {
		t.Fatalf("README.md has lost %q", intro)
	}
	list, _, _ := strings.Cut(after, ". ")
	var listed []string
	for _, m := range regexp.MustCompile("`-([a-zA-Z-]+)`").FindAllStringSubmatch(list, -1) {
		listed = append(listed, m[1])
	}
	var defined []string
	newFlagSet(new(flags)).VisitAll(func(f *flag.Flag) { defined = append(defined, f.Name) })
	slices.Sort(listed)
	if !slices.Equal(listed, defined) { // VisitAll goes in lexical order
		t.Errorf("the README lists the flags %v; the command has %v", listed, defined)
	}
}
