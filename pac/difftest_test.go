//go:build difftest

package pac

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the corpus's zone, whatever the machine has installed
)

// The differential test: the scripts of testdata/corpus, asked for the URLs
// of testdata/corpus/cases.json at fixed instants, with one fixed DNS table
// and client address, by this package, by pacparser (Debian's
// python3-pacparser) and by the npm pac-resolver package; every answer must
// agree, except the differences listed as known in cases.json, where every
// engine's answer is pinned so that a change on any side is noticed.
//
// It needs the references installed; difftest/run.sh installs them and runs
// it. Run by hand:
//
//	bash difftest/run.sh
//
// A missing reference fails the test: it never skips.

type corpus struct {
	Comment string              `json:"comment"`
	TZ      string              `json:"tz"`
	MyIP    string              `json:"myip"`
	DNS     map[string][]string `json:"dns"`
	Clocks  map[string]string   `json:"clocks"`
	Runs    []struct {
		Script     string   `json:"script"`
		References []string `json:"references"`
		Why        string   `json:"why"`
		Clocks     []string `json:"clocks"`
		MyIP       string   `json:"myip"`
		URLs       []string `json:"urls"`
	} `json:"runs"`
	Known []knownDifference `json:"known"`
}

type knownDifference struct {
	Script  string            `json:"script"`
	URL     string            `json:"url"`
	Clock   string            `json:"clock"`
	MyIP    string            `json:"myip,omitempty"`
	Answers map[string]string `json:"answers"`
	Why     string            `json:"why"`
}

// jobCase is one question put to a reference: the script, and the url and
// host arguments exactly as this package hands them to a script.
type jobCase struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	URL    string `json:"url"`
	Host   string `json:"host"`
	Clock  int64  `json:"clock"` // milliseconds since the epoch
	MyIP   string `json:"myip"`
}

type job struct {
	DNS   map[string][]string `json:"dns"`
	Cases []jobCase           `json:"cases"`
}

type refResult struct {
	Answer *string `json:"answer"`
	Error  string  `json:"error"`
}

func caseID(script, rawURL, clock, myIP string) string {
	return script + " " + rawURL + " @" + clock + " from " + myIP
}

func TestDifferential(t *testing.T) {
	raw, err := os.ReadFile("testdata/corpus/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c corpus
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a misspelt field would silently drop cases
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	loc, err := time.LoadLocation(c.TZ)
	if err != nil {
		t.Fatal(err)
	}
	dns := newDNSServer(t, c.DNS)

	ours := map[string]string{}     // case ID → this package's answer
	jobs := map[string]*job{}       // reference → its questions
	wanted := map[string][]string{} // case ID → the references asked
	scripts := map[string]*Script{} // script and options → parsed
	for _, run := range c.Runs {
		src, err := os.ReadFile(filepath.Join("testdata/corpus", run.Script))
		if err != nil {
			t.Fatal(err)
		}
		myIP := c.MyIP
		if run.MyIP != "" {
			myIP = run.MyIP
		}
		for _, clockName := range run.Clocks {
			instant, err := time.Parse(time.RFC3339, c.Clocks[clockName])
			if err != nil {
				t.Fatalf("clock %q: %v", clockName, err)
			}
			key := run.Script + "@" + clockName + "/" + myIP
			s := scripts[key]
			if s == nil {
				s, err = Parse(src, WithResolver(dns.resolver()), WithMyIPAddress(netip.MustParseAddr(myIP)),
					WithClock(func() time.Time { return instant.In(loc) }), WithTimeout(10*time.Second))
				if err != nil {
					t.Fatalf("%s: %v", run.Script, err)
				}
				scripts[key] = s
			}
			for _, rawURL := range run.URLs {
				id := caseID(run.Script, rawURL, clockName, myIP)
				u, err := url.Parse(rawURL)
				if err != nil {
					t.Fatal(err)
				}
				urlArg, host, err := scriptArgs(u)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				answer, err := s.FindProxyForURL(context.Background(), rawURL)
				if err != nil {
					answer = "ERROR: " + err.Error()
				}
				ours[id] = answer
				wanted[id] = run.References
				for _, ref := range run.References {
					if jobs[ref] == nil {
						jobs[ref] = &job{DNS: c.DNS}
					}
					jobs[ref].Cases = append(jobs[ref].Cases, jobCase{
						ID: id, Source: string(src), URL: urlArg, Host: host,
						Clock: instant.UnixMilli(), MyIP: myIP,
					})
				}
			}
		}
	}

	theirs := map[string]map[string]refResult{}
	for ref, j := range jobs {
		theirs[ref] = runReference(t, ref, j, c.TZ)
	}

	known := map[string]knownDifference{}
	for _, k := range c.Known {
		myIP := k.MyIP
		if myIP == "" {
			myIP = c.MyIP
		}
		known[caseID(k.Script, k.URL, k.Clock, myIP)] = k
	}
	ids := make([]string, 0, len(ours))
	for id := range ours {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	compared, differences := 0, 0
	for _, id := range ids {
		k, isKnown := known[id]
		delete(known, id)
		if isKnown {
			differences++
			if want := k.Answers["wsdial"]; !sameAnswer(ours[id], want) {
				t.Errorf("%s: wsdial answered %q; the known difference pins %q", id, ours[id], want)
			}
		}
		for _, ref := range wanted[id] {
			r, ok := theirs[ref][id]
			if !ok {
				t.Errorf("%s: %s gave no answer", id, ref)
				continue
			}
			got := "ERROR: " + r.Error
			if r.Answer != nil {
				got = *r.Answer
			}
			compared++
			switch {
			case isKnown:
				if want, ok := k.Answers[ref]; !ok || !sameAnswer(got, want) {
					t.Errorf("%s: %s answered %q; the known difference pins %q", id, ref, got, want)
				}
			case !sameAnswer(got, ours[id]):
				t.Errorf("%s:\n\twsdial:     %q\n\t%-11s %q", id, ours[id], ref+":", got)
			}
		}
	}
	for id := range known {
		t.Errorf("known difference %s matches no case of the corpus", id)
	}
	t.Logf("%d cases, %d comparisons with a reference, %d of them known differences", len(ours), compared, differences)
}

// sameAnswer compares answers, errors by their prefix alone: engines word
// their errors differently.
func sameAnswer(got, want string) bool {
	if strings.HasPrefix(want, "ERROR") {
		return strings.HasPrefix(got, "ERROR")
	}
	return got == want
}

// runReference puts a job to one reference and returns its answers. A
// reference that is not installed fails the test, with how to install it.
func runReference(t *testing.T, ref string, j *job, tz string) map[string]refResult {
	t.Helper()
	var argv []string
	switch ref {
	case "pacparser":
		argv = []string{"/usr/bin/python3", "difftest/pacparser_eval.py"}
	case "pac-resolver":
		if _, err := os.Stat("difftest/node/node_modules/pac-resolver/package.json"); err != nil {
			t.Fatalf("pac-resolver is not installed (%v): run bash difftest/run.sh, which runs npm ci in difftest/node", err)
		}
		argv = []string{"node", "difftest/node/eval.mjs"}
	default:
		t.Fatalf("unknown reference %q", ref)
	}
	f, err := os.CreateTemp(t.TempDir(), ref+"-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewEncoder(f).Encode(j); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], f.Name())...)
	cmd.Env = append(os.Environ(), "TZ="+tz)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reference %s (%s) failed: %v\n%s\n(install the references with bash difftest/run.sh)", ref, strings.Join(argv, " "), err, clip(stderr.String(), 4000))
	}
	var out map[string]refResult
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("reference %s printed no JSON: %v\n%s\n%s", ref, err, clip(stdout.String(), 2000), clip(stderr.String(), 2000))
	}
	if len(out) != len(j.Cases) {
		t.Fatalf("reference %s answered %d of %d cases", ref, len(out), len(j.Cases))
	}
	t.Logf("%s: %d cases", ref, len(out))
	return out
}
