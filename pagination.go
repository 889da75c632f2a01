package jobartifacts

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GitLab's offset pagination: page and per_page parameters, default 20 a
// page, at most 100.
const (
	defaultPerPage = 20
	maxPerPage     = 100
)

// pagination is a request's page and per_page. page is at least 1; a page
// too large for an int64 is kept as math.MaxInt64, which is past the end of
// any listing, and pageText is the page as GitLab echoes it in X-Page.
type pagination struct {
	page     int64
	pageText string
	perPage  int
}

// pageParams reads page and per_page as GitLab does: Grape coerces them to
// Integer (Ruby's, of any size: nothing overflows) and rejects per_page=0
// (except_values of API::PaginationParams); Kaminari then takes a page
// below 1 as page 1, a per_page below 0 as the default and caps it at 100.
// Non-integers are 400 "<name> is invalid"; several errors are joined as
// Grape joins them.
func pageParams(q url.Values) (pagination, error) {
	p := pagination{page: 1, pageText: "1", perPage: defaultPerPage}
	var problems []string
	if v := q.Get("page"); v != "" {
		switch n, ok := parseRubyInteger(v); {
		case !ok:
			problems = append(problems, "page is invalid")
		case n.negative || n.digits == "0":
			// Kaminari: page 1.
		default:
			p.pageText = n.digits
			p.page = n.clamped()
		}
	}
	if v := q.Get("per_page"); v != "" {
		switch n, ok := parseRubyInteger(v); {
		case !ok:
			problems = append(problems, "per_page is invalid")
		case n.digits == "0":
			problems = append(problems, "per_page has a value not allowed")
		case n.negative:
			// Kaminari ignores a negative per_page.
		default:
			p.perPage = int(min(n.clamped(), maxPerPage))
		}
	}
	if len(problems) > 0 {
		return p, &apiError{status: http.StatusBadRequest, key: "error", text: strings.Join(problems, ", ")}
	}
	return p, nil
}

// rubyInteger is an integer of any size: its sign and its decimal digits
// without leading zeros ("0" for zero).
type rubyInteger struct {
	negative bool
	digits   string
}

// clamped is the integer's absolute value, or math.MaxInt64 if it is larger.
func (n rubyInteger) clamped() int64 {
	v, err := strconv.ParseInt(n.digits, 10, 64)
	if err != nil {
		return math.MaxInt64
	}
	return v
}

// parseRubyInteger reads s as Ruby's Integer(s, 10) does, which is how
// Grape coerces an Integer parameter: surrounding whitespace, an optional
// sign, decimal digits with single underscores between them.
func parseRubyInteger(s string) (rubyInteger, bool) {
	s = strings.Trim(s, " \t\n\v\f\r")
	var n rubyInteger
	if s != "" && (s[0] == '+' || s[0] == '-') {
		n.negative = s[0] == '-'
		s = s[1:]
	}
	var digits strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits.Len() > 0 || c != '0' {
				digits.WriteByte(c)
			}
		case c == '_' && i > 0 && i+1 < len(s) && s[i-1] != '_' && s[i+1] >= '0' && s[i+1] <= '9':
		default:
			return rubyInteger{}, false
		}
	}
	if s == "" {
		return rubyInteger{}, false
	}
	n.digits = digits.String()
	if n.digits == "" {
		n.digits = "0"
	}
	return n, true
}

// apply sets GitLab's pagination headers on w and returns the page's items.
func (p pagination) apply(w http.ResponseWriter, r *http.Request, items []treeEntry) []treeEntry {
	start, end := p.setHeaders(w, r, len(items))
	if start >= end {
		return []treeEntry{}
	}
	return items[start:end]
}

// setHeaders sets GitLab's pagination headers for a listing of total items
// and returns the page's bounds in it (start == end for an empty page).
func (p pagination) setHeaders(w http.ResponseWriter, r *http.Request, total int) (start, end int) {
	totalPages := max(1, (total+p.perPage-1)/p.perPage)
	hdr := w.Header()
	hdr.Set("X-Total", strconv.Itoa(total))
	hdr.Set("X-Total-Pages", strconv.Itoa(totalPages))
	hdr.Set("X-Page", p.pageText)
	hdr.Set("X-Per-Page", strconv.Itoa(p.perPage))
	hdr.Set("X-Next-Page", "")
	hdr.Set("X-Prev-Page", "")
	var links []string
	link := func(rel string, page int64) {
		links = append(links, fmt.Sprintf(`<%s>; rel="%s"`, pageURL(r, page, p.perPage), rel))
	}
	// Kaminari has no previous page past the last one (out of range).
	last := int64(totalPages)
	if p.page > 1 && p.page <= last {
		hdr.Set("X-Prev-Page", strconv.FormatInt(p.page-1, 10))
		link("prev", p.page-1)
	}
	if p.page < last {
		hdr.Set("X-Next-Page", strconv.FormatInt(p.page+1, 10))
		link("next", p.page+1)
	}
	link("first", 1)
	link("last", last)
	hdr.Set("Link", strings.Join(links, ", "))

	// Past the last page (any page, however large) is an empty page; below
	// it, the offset fits in an int.
	if p.page > last {
		return 0, 0
	}
	start = int(p.page-1) * p.perPage
	if start >= total {
		return 0, 0
	}
	return start, min(start+p.perPage, total)
}

// offset is where the page starts, or false when that is past maxOffset.
func (p pagination) offset(maxOffset int) (int, bool) {
	if p.page-1 > int64(maxOffset/p.perPage) {
		return 0, false
	}
	off := int(p.page-1) * p.perPage
	return off, off <= maxOffset
}

// setHeadersWithoutCount sets the headers GitLab sends for a page it did
// not count the listing for (Kaminari's without_count, which GitLab uses
// for large collections): no X-Total, X-Total-Pages or "last" link; a next
// page when a row follows this page's, a previous one when this page has
// rows.
func (p pagination) setHeadersWithoutCount(w http.ResponseWriter, r *http.Request, rows int, hasNext bool) {
	hdr := w.Header()
	hdr.Set("X-Page", p.pageText)
	hdr.Set("X-Per-Page", strconv.Itoa(p.perPage))
	hdr.Set("X-Next-Page", "")
	hdr.Set("X-Prev-Page", "")
	var links []string
	link := func(rel string, page int64) {
		links = append(links, fmt.Sprintf(`<%s>; rel="%s"`, pageURL(r, page, p.perPage), rel))
	}
	if p.page > 1 && rows > 0 {
		hdr.Set("X-Prev-Page", strconv.FormatInt(p.page-1, 10))
		link("prev", p.page-1)
	}
	if hasNext {
		hdr.Set("X-Next-Page", strconv.FormatInt(p.page+1, 10))
		link("next", p.page+1)
	}
	link("first", 1)
	hdr.Set("Link", strings.Join(links, ", "))
}

// pageURL is the request's own URL with page and per_page replaced.
func pageURL(r *http.Request, page int64, perPage int) string {
	u := *r.URL
	q := u.Query()
	q.Set("page", strconv.FormatInt(page, 10))
	q.Set("per_page", strconv.Itoa(perPage))
	u.RawQuery = q.Encode()
	u.Scheme = "http"
	if r.TLS != nil {
		u.Scheme = "https"
	}
	u.Host = r.Host
	return u.String()
}
