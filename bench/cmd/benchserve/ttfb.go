package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"time"
)

// ttfb sends the same GET -n times over one keep-alive connection, after
// -warm uncounted ones, and prints the median time to first byte and the
// median time to the end of the body, in seconds, and the body's size.
// With -pid it also prints, in KiB, how far that server's peak RSS
// (VmHWM) rose over the counted requests.
//
//	benchserve ttfb [-n 50] [-warm 3] [-pid PID] URL [header: value]...
//	→ ttfb-median total-median bytes [hwm-growth-KiB]
func ttfb(args []string) error {
	fs := flag.NewFlagSet("ttfb", flag.ContinueOnError)
	n := fs.Int("n", 50, "counted requests")
	warm := fs.Int("warm", 3, "uncounted requests first")
	pid := fs.Int("pid", 0, "server process whose VmHWM growth to print")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || *n < 1 {
		return errors.New("usage: ttfb [-n N] [-warm N] [-pid PID] URL [header: value]")
	}
	req, err := newGet(fs.Arg(0), fs.Args()[1:])
	if err != nil {
		return err
	}
	client := &http.Client{}
	for range *warm {
		if _, _, _, err := timedGet(client, req); err != nil {
			return err
		}
	}
	var before int64
	if *pid != 0 {
		if before, err = resetPeak([]int{*pid}); err != nil {
			return err
		}
	}
	var first, total []time.Duration
	var size int64
	for range *n {
		f, t, s, err := timedGet(client, req)
		if err != nil {
			return err
		}
		first, total, size = append(first, f), append(total, t), s
	}
	fmt.Printf("%.6f %.6f %d", median(first).Seconds(), median(total).Seconds(), size)
	if *pid != 0 {
		peak, err := procStatus([]int{*pid}, "VmHWM")
		if err != nil {
			return err
		}
		fmt.Printf(" %d", peak-before)
	}
	fmt.Println()
	return nil
}

// newGet builds a GET of url with "Name: value" headers.
func newGet(url string, headers []string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return req, nil
}

// timedGet sends req, reads the body to its end and returns the time to
// the response's first byte, the time to the body's end and its size; a
// status other than 200 is an error.
func timedGet(client *http.Client, req *http.Request) (first, total time.Duration, size int64, err error) {
	start := time.Now()
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Since(start) }}
	resp, err := client.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	size, err = io.Copy(io.Discard, resp.Body)
	total = time.Since(start)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	return first, total, size, err
}

// median of durations (the upper middle of an even count).
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
