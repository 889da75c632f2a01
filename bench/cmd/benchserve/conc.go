package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// conc measures memory per in-flight request: it resets the servers' peak
// RSS, starts -n GETs at once, each on its own connection, and has each
// read -first bytes, pause, read on to -total bytes (0: to the end) and
// close. It prints (VmHWM − RSS before)/n in KiB, summed over -pids.
//
// Each request goes on by itself: none waits for the others to reach
// -first, since a server may hold some back (zstd decoders are lent from a
// bounded pool) until others finish, and waiting for all would deadlock.
//
//	benchserve conc -pids P[,P…] [-n 100] [-first 1048576] [-pause 1s] [-total 16777216] URL [header: value]...
//	→ KiB-per-request requests
func conc(args []string) error {
	fs := flag.NewFlagSet("conc", flag.ContinueOnError)
	pidList := fs.String("pids", "", "server processes, comma-separated (nginx: its workers)")
	n := fs.Int("n", 100, "requests at once")
	first := fs.Int64("first", 1<<20, "bytes each reads before its pause")
	pause := fs.Duration("pause", time.Second, "pause after -first bytes")
	total := fs.Int64("total", 16<<20, "bytes each reads in all (0: the whole body)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || *pidList == "" || *n < 1 {
		return errors.New("usage: conc -pids P[,P…] [-n N] [-first B] [-pause D] [-total B] URL [header: value]")
	}
	pids, err := parsePids(*pidList)
	if err != nil {
		return err
	}
	req, err := newGet(fs.Arg(0), fs.Args()[1:])
	if err != nil {
		return err
	}
	// No idle connections kept: every request dials its own.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	kib, err := peakPerRequest(pids, *n, func() error { return partialGet(client, req, *first, *pause, *total) })
	if err != nil {
		return err
	}
	fmt.Printf("%d %d\n", kib, *n)
	return nil
}

// peakPerRequest resets the peak RSS of pids, runs do n times at once and
// returns (VmHWM − RSS before)/n in KiB, summed over pids.
func peakPerRequest(pids []int, n int, do func() error) (int64, error) {
	before, err := resetPeak(pids)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = do() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	peak, err := procStatus(pids, "VmHWM")
	if err != nil {
		return 0, err
	}
	return (peak - before) / int64(n), nil
}

// partialGet reads first bytes of req's body, pauses, then reads on to
// total bytes (or the end) and closes.
func partialGet(client *http.Client, req *http.Request, first int64, pause time.Duration, total int64) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	if total == 0 {
		total = 1 << 62
	}
	if _, err := io.CopyN(io.Discard, resp.Body, min(first, total)); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	time.Sleep(pause)
	if _, err := io.CopyN(io.Discard, resp.Body, total-min(first, total)); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
