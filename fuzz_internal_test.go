package jobartifacts

import (
	"errors"
	"math/big"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseExpireIn: any expire_in parses or fails with
// ErrInvalidDuration, never panics, and "never" and a duration exclude each
// other. A positive total below a nanosecond is a zero duration that is
// not never ("0.0000000001 s" expires at once, as GitLab's from_now would).
func FuzzParseExpireIn(f *testing.F) {
	for _, s := range []string{"1 week", "2 hrs 20 min", "3 weeks and 2 days", "never", "0", "", "1.5", "2h30m",
		"1:30:00", "6 mos", "1 yr", strings.Repeat("9", 400) + " days", "99999999999999 years", "week", "one week", "1e400", "..5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, never, err := ParseExpireIn(s)
		switch {
		case err != nil:
			if !errors.Is(err, ErrInvalidDuration) || d != 0 || never {
				t.Fatalf("%q: %v, %v, %v", s, d, never, err)
			}
		case never:
			if d != 0 {
				t.Fatalf("%q: never with %v", s, d)
			}
		case d < 0:
			t.Fatalf("%q: negative %v", s, d)
		}
	})
}

// rubyIntegerSyntax is what Ruby's Integer(s, 10) accepts.
var rubyIntegerSyntax = regexp.MustCompile(`^[ \t\n\v\f\r]*([+-]?)([0-9]+(?:_[0-9]+)*)[ \t\n\v\f\r]*$`)

// FuzzPageParams: any page and per_page are read as Ruby reads integers
// (checked against math/big), and any page of any listing is cut without a
// panic, within the page size, with X-Page echoing the page.
func FuzzPageParams(f *testing.F) {
	for _, s := range []struct {
		page, perPage string
		total         uint16
	}{
		{"1", "20", 7}, {"9223372036854775807", "100", 3}, {"-9223372036854775808", "-1", 0},
		{"99999999999999999999999", "99999999999999999999", 250}, {"0", "0", 1}, {"1_000", " 2 ", 5000},
		{"abc", "ten", 1}, {"+3", "-0", 9}, {"", "", 0}, {"1e3", "0x10", 2},
	} {
		f.Add(s.page, s.perPage, s.total)
	}
	f.Fuzz(func(t *testing.T, page, perPage string, total uint16) {
		q := url.Values{}
		if page != "" {
			q.Set("page", page)
		}
		if perPage != "" {
			q.Set("per_page", perPage)
		}
		p, err := pageParams(q)
		wantErr := false
		for _, v := range []struct{ name, s string }{{"page", page}, {"per_page", perPage}} {
			if v.s == "" {
				continue
			}
			m := rubyIntegerSyntax.FindStringSubmatch(v.s)
			if m == nil {
				wantErr = true
				continue
			}
			want, _ := new(big.Int).SetString(strings.ReplaceAll(m[2], "_", ""), 10)
			if v.name == "per_page" && want.Sign() == 0 {
				wantErr = true
			}
			if v.name == "page" && m[1] != "-" && want.Sign() > 0 && err == nil && p.pageText != want.String() {
				t.Fatalf("page %q read as %q, Ruby: %s", v.s, p.pageText, want)
			}
		}
		if (err != nil) != wantErr {
			t.Fatalf("page %q per_page %q: error %v, want error %v", page, perPage, err, wantErr)
		}
		if err != nil {
			return
		}
		if p.page < 1 || p.perPage < 1 || p.perPage > maxPerPage {
			t.Fatalf("page %q per_page %q: %+v", page, perPage, p)
		}
		items := make([]treeEntry, total)
		rec := httptest.NewRecorder()
		got := p.apply(rec, httptest.NewRequest("GET", "/tree", nil), items)
		if len(got) > p.perPage {
			t.Fatalf("%d items on a page of %d", len(got), p.perPage)
		}
		if rec.Header().Get("X-Page") != p.pageText || rec.Header().Get("X-Total") != strconv.Itoa(int(total)) {
			t.Fatalf("headers %v", rec.Header())
		}
	})
}

// FuzzParsePositiveInt: parsePositiveInt accepts exactly the strings of
// ASCII digits that strconv.ParseInt reads as an int64 above zero, with
// the same value; leading zeros allowed, signs and spaces not.
func FuzzParsePositiveInt(f *testing.F) {
	for _, s := range []string{"", "0", "00", "1", "007", "42", "-1", "+1", " 1", "1 ", "1a", "a1", "١",
		"9223372036854775807", "9223372036854775808", "18446744073709551616", "99999999999999999999",
		"0000000000000000000009223372036854775807", "0000000000000000000009223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil && want > 0 && strings.Trim(s, "0123456789") == ""
		if !wantOK {
			want = 0
		}
		got, ok := parsePositiveInt(s)
		if got != want || ok != wantOK {
			t.Fatalf("parsePositiveInt(%q) = %d, %v; want %d, %v", s, got, ok, want, wantOK)
		}
	})
}
