package jobartifacts

import (
	"fmt"
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

type pagination struct{ page, perPage int }

// pageParams reads page and per_page. Non-numbers are 400 as Grape's
// validation answers them; values below 1 fall back to the defaults and
// per_page is capped at 100, as GitLab does.
func pageParams(q url.Values) (pagination, error) {
	p := pagination{page: 1, perPage: defaultPerPage}
	for _, param := range []struct {
		name string
		dst  *int
	}{{"page", &p.page}, {"per_page", &p.perPage}} {
		v := q.Get(param.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, &apiError{status: http.StatusBadRequest, key: "error", text: param.name + " is invalid"}
		}
		if n >= 1 {
			*param.dst = n
		}
	}
	p.perPage = min(p.perPage, maxPerPage)
	return p, nil
}

// apply sets GitLab's pagination headers on w and returns the page's items.
func (p pagination) apply(w http.ResponseWriter, r *http.Request, items []treeEntry) []treeEntry {
	total := len(items)
	totalPages := max(1, (total+p.perPage-1)/p.perPage)
	hdr := w.Header()
	hdr.Set("X-Total", strconv.Itoa(total))
	hdr.Set("X-Total-Pages", strconv.Itoa(totalPages))
	hdr.Set("X-Page", strconv.Itoa(p.page))
	hdr.Set("X-Per-Page", strconv.Itoa(p.perPage))
	hdr.Set("X-Next-Page", "")
	hdr.Set("X-Prev-Page", "")
	var links []string
	link := func(rel string, page int) {
		links = append(links, fmt.Sprintf(`<%s>; rel="%s"`, pageURL(r, page, p.perPage), rel))
	}
	// Kaminari has no previous page past the last one (out of range).
	if p.page > 1 && p.page <= totalPages {
		hdr.Set("X-Prev-Page", strconv.Itoa(p.page-1))
		link("prev", p.page-1)
	}
	if p.page < totalPages {
		hdr.Set("X-Next-Page", strconv.Itoa(p.page+1))
		link("next", p.page+1)
	}
	link("first", 1)
	link("last", totalPages)
	hdr.Set("Link", strings.Join(links, ", "))

	start := (p.page - 1) * p.perPage
	if start >= total {
		return []treeEntry{}
	}
	return items[start:min(start+p.perPage, total)]
}

// pageURL is the request's own URL with page and per_page replaced.
func pageURL(r *http.Request, page, perPage int) string {
	u := *r.URL
	q := u.Query()
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(perPage))
	u.RawQuery = q.Encode()
	u.Scheme = "http"
	if r.TLS != nil {
		u.Scheme = "https"
	}
	u.Host = r.Host
	return u.String()
}
