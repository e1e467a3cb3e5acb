package authchallenge

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   []Challenge
	}{
		{[]string{"Negotiate"}, []Challenge{{"Negotiate", ""}}},
		{[]string{"NTLM TlRMTVNTUAACAAAA=="}, []Challenge{{"NTLM", "TlRMTVNTUAACAAAA=="}}},
		{[]string{`Basic realm="a, b", charset="UTF-8"`}, []Challenge{{"Basic", `realm="a, b", charset="UTF-8"`}}},
		{[]string{`Basic realm="x", NTLM, Negotiate oYG+/w==`},
			[]Challenge{{"Basic", `realm="x"`}, {"NTLM", ""}, {"Negotiate", "oYG+/w=="}}},
		{[]string{"Negotiate", "NTLM", `Basic realm="wsdial-interop"`},
			[]Challenge{{"Negotiate", ""}, {"NTLM", ""}, {"Basic", `realm="wsdial-interop"`}}},
		{[]string{`Digest realm="r", nonce="a\"b,c", qop="auth"`}, []Challenge{{"Digest", `realm="r", nonce="a\"b,c", qop="auth"`}}},
		{[]string{"realm=orphan, , ,NTLM"}, []Challenge{{"NTLM", ""}}},
		{[]string{"Basic realm = x"}, []Challenge{{"Basic", "realm = x"}}},
		{[]string{`"quoted", =x, Näme`, "Bad\x00"}, nil},
	} {
		if got := Parse(tc.values); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

func TestFindToken68(t *testing.T) {
	values := []string{`Basic realm="x", ntlm TlRM+/==`}
	c, ok := Find(values, "NTLM")
	if !ok || c.Token68() != "TlRM+/==" {
		t.Errorf("Find = %q, %v", c, ok)
	}
	if c, _ := Find(values, "basic"); c.Token68() != "" {
		t.Errorf("Basic's params read as a token68: %q", c.Token68())
	}
	if _, ok := Find(values, "Negotiate"); ok {
		t.Error("found a scheme that is not offered")
	}
}

// FuzzParse checks that no field value panics the parser or yields a
// challenge without a scheme, and that the work stays bounded.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		cs := Parse([]string{v, v})
		if len(cs) > 2*(maxElements+1) {
			t.Fatalf("%d challenges from two values", len(cs))
		}
		for _, c := range cs {
			if c.Scheme == "" || strings.ContainsAny(c.Scheme, " \t,=\"") {
				t.Fatalf("challenge with scheme %q", c.Scheme)
			}
			if tok := c.Token68(); tok != "" && strings.ContainsAny(tok, " ,\"") {
				t.Fatalf("token68 %q", tok)
			}
		}
	})
}
